"""Which errors mean "a backing service is unavailable" (a 503), and which are bugs (a 500)."""

from __future__ import annotations

import asyncpg
import pytest
import redis.exceptions
import sqlalchemy.exc

from dashboard_api.adapters.unavailable import (
    is_unavailable,
    is_unstorable_text,
    is_unstorable_value,
)


def _wrapped(error: Exception) -> Exception:
    """As SQLAlchemy raises a driver error: its own class, the driver's in `orig`."""
    return sqlalchemy.exc.DBAPIError("SELECT 1", None, error)


def _caused(error: Exception) -> Exception:
    try:
        raise RuntimeError("while reading") from error
    except RuntimeError as outer:
        return outer


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.InterfaceError("cannot perform operation: connection is closed"),
        asyncpg.InternalClientError("unexpected state"),
        asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        asyncpg.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.CannotConnectNowError("the database system is starting up"),
        asyncpg.QueryCanceledError("canceling statement due to statement timeout"),
        asyncpg.TooManyConnectionsError("sorry, too many clients already"),
        redis.exceptions.ConnectionError("Connection refused"),
        redis.exceptions.BusyLoadingError("LOADING"),
        redis.exceptions.ReadOnlyError("READONLY"),
        redis.exceptions.TimeoutError("Timeout reading from socket"),
        TimeoutError(),
        ConnectionResetError(),
        ExceptionGroup("both", [TimeoutError(), redis.exceptions.ConnectionError()]),
    ],
)
def test_an_unreachable_or_restarting_service_is_unavailable_however_wrapped(
    error: Exception,
) -> None:
    assert is_unavailable(error)
    assert is_unavailable(_wrapped(error))
    assert is_unavailable(_caused(_wrapped(error)))


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.InterfaceError("cannot perform operation: another operation is in progress"),
        asyncpg.UniqueViolationError("duplicate key"),
        asyncpg.UndefinedTableError("relation does not exist"),
        redis.exceptions.ResponseError("WRONGTYPE"),
        ValueError("a bug"),
        ExceptionGroup("mixed", [TimeoutError(), KeyError("a bug")]),
    ],
)
def test_a_defect_is_not_unavailability(error: Exception) -> None:
    assert not is_unavailable(error)
    assert not is_unavailable(_wrapped(error))


def test_text_postgres_cannot_store_is_recognised_through_the_wrapping() -> None:
    error = asyncpg.CharacterNotInRepertoireError("invalid byte sequence")
    assert is_unstorable_text(_wrapped(error))
    assert not is_unavailable(_wrapped(error))


@pytest.mark.parametrize(
    ("error", "unstorable"),
    [
        (asyncpg.CharacterNotInRepertoireError("invalid byte sequence"), True),  # 22021
        (asyncpg.NumericValueOutOfRangeError("bigint out of range"), True),  # 22003
        (asyncpg.UniqueViolationError("duplicate key"), True),  # 23505
        (asyncpg.SerializationError("could not serialize"), False),  # 40001: retry it
        (asyncpg.AdminShutdownError("terminating connection"), False),  # unavailable
        (RuntimeError("a bug"), False),
    ],
)
def test_a_value_the_database_refuses_is_recognised_bare_or_wrapped(
    error: Exception, unstorable: bool
) -> None:
    """The ingestors dead-letter an event whose value the database refuses (a retry would
    meet it again): asyncpg's errors from the native statements as SQLAlchemy's wrapping."""
    for seen in (error, _wrapped(error), _caused(error)):
        assert is_unstorable_value(seen) is unstorable
