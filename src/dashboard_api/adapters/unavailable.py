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
