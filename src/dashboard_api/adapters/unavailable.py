"""The errors that mean "a backing service is unreachable or saturated", not "a bug".

The HTTP layer answers them with 503 and `Retry-After` (a client may retry; a monitor sees
an outage, not a defect), where any other unexpected error is a 500. An error counts as
unavailability when it, or an error it wraps (SQLAlchemy's `orig`, a `__cause__`, the members
of an exception group), is one of the kinds below: the same answer on the SQLAlchemy path
and on the native asyncpg read path, wherever in a request it surfaces.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable

import asyncpg
import redis.exceptions
import sqlalchemy.exc

UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (
    sqlalchemy.exc.TimeoutError,  # every pooled connection busy for `pool_timeout`
    sqlalchemy.exc.OperationalError,  # the driver lost or could not open a connection
    sqlalchemy.exc.InterfaceError,
    asyncpg.PostgresConnectionError,  # class 08, e.g. ConnectionDoesNotExistError
    asyncpg.CannotConnectNowError,  # the server is starting or shutting down
    asyncpg.AdminShutdownError,  # "terminating connection due to administrator command"
    asyncpg.CrashShutdownError,
    asyncpg.TooManyConnectionsError,
    asyncpg.QueryCanceledError,  # the statement timeout (DASHBOARD_DB_STATEMENT_TIMEOUT_SECONDS)
    # asyncpg's own protocol state after a connection died mid-query (seen during a restart).
    asyncpg.InternalClientError,
    redis.exceptions.ConnectionError,  # also BusyLoadingError (a restart loading its data)
    redis.exceptions.TimeoutError,
    redis.exceptions.ReadOnlyError,  # a failover left us on a replica
    redis.exceptions.TryAgainError,
    redis.exceptions.ClusterDownError,
    ConnectionError,  # refused, reset, aborted
    TimeoutError,  # a connect or statement timeout on the client side
    socket.gaierror,  # a host name that does not resolve
)

# Connection exceptions (class 08), shutdown and start-up (57P01-57P03), statement timeout
# (57014), too many connections and other exhausted resources (class 53).
_UNAVAILABLE_SQLSTATE_CLASSES = ("08", "53")
_UNAVAILABLE_SQLSTATES = frozenset({"57014", "57P01", "57P02", "57P03"})
_CHAIN_DEPTH = 6


def is_unavailable(error: BaseException) -> bool:
    """Whether `error` means a backing service is unreachable, restarting or saturated."""
    for seen in _chain(error):
        if isinstance(seen, UNAVAILABLE_ERRORS):
            return True
        if isinstance(seen, BaseExceptionGroup) and all(
            is_unavailable(member) for member in seen.exceptions
        ):
            return True
        if isinstance(seen, asyncpg.InterfaceError) and "closed" in str(seen):
            return True  # "cannot perform operation: connection is closed"
        if isinstance(seen, sqlalchemy.exc.DBAPIError) and seen.connection_invalidated:
            return True
        state = getattr(seen, "sqlstate", None)
        if isinstance(state, str) and (
            state in _UNAVAILABLE_SQLSTATES or state.startswith(_UNAVAILABLE_SQLSTATE_CLASSES)
        ):
            return True
    return False


# What PostgreSQL says of text it cannot store (a NUL character, invalid in its UTF-8 text).
_UNSTORABLE_TEXT = frozenset({"22021", "22P05"})  # character_not_in_repertoire, untranslatable


def is_unstorable_text(error: BaseException) -> bool:
    """Whether the database refused a value a client sent because of its characters: bad
    input (the transaction rolled back, nothing changed), not a defect."""
    return any(getattr(seen, "sqlstate", None) in _UNSTORABLE_TEXT for seen in _chain(error))


def is_unstorable_value(error: BaseException) -> bool:
    """Whether the database refused a value itself (SQLSTATE class 22, data exception, or 23,
    integrity constraint violation), however it was wrapped: SQLAlchemy's DataError and
    IntegrityError, or asyncpg's own errors from the native statements. A retry would meet
    it again."""
    return any(
        isinstance(state := getattr(seen, "sqlstate", None), str) and state[:2] in ("22", "23")
        for seen in _chain(error)
    )


def _chain(error: BaseException) -> list[BaseException]:
    """The error, SQLAlchemy's `orig`, the driver's cause: what each layer wrapped."""
    chain: list[BaseException] = []
    seen: BaseException | None = error
    while seen is not None and len(chain) < _CHAIN_DEPTH and seen not in chain:
        chain.append(seen)
        seen = getattr(seen, "orig", None) or seen.__cause__
    return chain


class FailureLog:
    """How a background loop reports its failed rounds: a defect (any unexpected error) with
    its traceback every time; an outage (a database or Redis unreachable, restarting or
    saturated) with its message only, when it starts, then at most every `repeat_seconds`
    while it lasts (with the count of rounds failed meanwhile), and once more when a round
    succeeds again. A PostgreSQL restart used to print a full traceback per loop per round."""

    def __init__(
        self,
        what: str,
        *,
        repeat_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        logger: logging.Logger,
    ) -> None:
        self._what = what
        self._repeat = repeat_seconds
        self._clock = clock
        self._log = logger
        self._since: float | None = None  # when the outage began
        self._said_at = 0.0
        self._failed = 0  # rounds failed since the outage began

    def failed(self, error: Exception) -> None:
        if not is_unavailable(error):
            self._log.warning("%s failed", self._what, exc_info=error)
            return
        now = self._clock()
        self._failed += 1
        reason = f"{type(error).__name__}: {error}"[:300]
        if self._since is None:
            self._since = self._said_at = now
            self._log.warning(
                "%s paused: a backing service is unavailable (%s)", self._what, reason
            )
        elif now - self._said_at >= self._repeat:
            self._said_at = now
            self._log.warning(
                "%s still paused after %.0fs (%d rounds failed): %s",
                self._what,
                now - self._since,
                self._failed,
                reason,
            )

    def succeeded(self) -> None:
        if self._since is not None:
            self._log.warning(
                "%s resumed after %.0fs (%d rounds failed)",
                self._what,
                self._clock() - self._since,
                self._failed,
            )
            self._since, self._failed = None, 0
