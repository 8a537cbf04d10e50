"""The errors that mean "a backing service is unreachable or saturated", not "a bug".

The HTTP layer answers them with 503 and `Retry-After` (a client may retry; a monitor sees
an outage, not a defect), where any other unexpected error is a 500.
"""

from __future__ import annotations

import socket

import asyncpg
import redis.exceptions
import sqlalchemy.exc

UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (
    sqlalchemy.exc.TimeoutError,  # every pooled connection busy for `pool_timeout`
    sqlalchemy.exc.OperationalError,  # the driver lost or could not open a connection
    sqlalchemy.exc.InterfaceError,
    asyncpg.PostgresConnectionError,  # on the native read path
    asyncpg.CannotConnectNowError,  # the server is starting or shutting down
    asyncpg.TooManyConnectionsError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    ConnectionError,  # refused, reset, aborted
    TimeoutError,
    socket.gaierror,  # a host name that does not resolve
)


# What PostgreSQL says of text it cannot store (a NUL character, invalid in its UTF-8 text).
_UNSTORABLE_TEXT = frozenset({"22021", "22P05"})  # character_not_in_repertoire, untranslatable

DATABASE_ERRORS: tuple[type[Exception], ...] = (sqlalchemy.exc.DBAPIError, asyncpg.PostgresError)


def is_unstorable_text(error: BaseException) -> bool:
    """Whether the database refused a value a client sent because of its characters: bad
    input (the transaction rolled back, nothing changed), not a defect."""
    seen: BaseException | None = error
    for _ in range(5):  # the error, SQLAlchemy's `orig`, the driver's cause
        if seen is None:
            return False
        if getattr(seen, "sqlstate", None) in _UNSTORABLE_TEXT:
            return True
        seen = getattr(seen, "orig", None) or seen.__cause__
    return False
