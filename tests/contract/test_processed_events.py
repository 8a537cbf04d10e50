"""Processed-event marks commit with the unit of work, on memory, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dashboard_api.domain.errors import Conflict
from tests.contract.conftest import Backend

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


async def test_a_mark_is_visible_once_committed(backend: Backend) -> None:
    async with backend.unit_of_work() as uow:
        await uow.processed_events.add("event-1", NOW)
        assert await uow.processed_events.contains("event-1")
        await uow.commit()
    async with backend.unit_of_work() as uow:
        assert await uow.processed_events.contains("event-1")
        assert not await uow.processed_events.contains("event-2")


async def test_a_mark_not_committed_is_forgotten(backend: Backend) -> None:
    async with backend.unit_of_work() as uow:
        await uow.processed_events.add("event-1", NOW)
    async with backend.unit_of_work() as uow:
        assert not await uow.processed_events.contains("event-1")


async def test_an_event_is_marked_only_once(backend: Backend) -> None:
    async with backend.unit_of_work() as uow:
        await uow.processed_events.add("event-1", NOW)
        await uow.commit()
    async with backend.unit_of_work() as uow:
        with pytest.raises(Conflict):
            await uow.processed_events.add("event-1", NOW)


async def test_retention_forgets_only_marks_older_than_the_cutoff(backend: Backend) -> None:
    async with backend.unit_of_work() as uow:
        await uow.processed_events.add("old", NOW - timedelta(days=8))
        await uow.processed_events.add("recent", NOW - timedelta(days=1))
        await uow.commit()
    async with backend.unit_of_work() as uow:
        assert await uow.processed_events.forget_before(NOW - timedelta(days=7)) == 1
        await uow.commit()
    async with backend.unit_of_work() as uow:
        assert not await uow.processed_events.contains("old")
        assert await uow.processed_events.contains("recent")


async def test_retention_not_committed_forgets_nothing(backend: Backend) -> None:
    async with backend.unit_of_work() as uow:
        await uow.processed_events.add("old", NOW - timedelta(days=8))
        await uow.commit()
    async with backend.unit_of_work() as uow:
        await uow.processed_events.forget_before(NOW)
    async with backend.unit_of_work() as uow:
        assert await uow.processed_events.contains("old")


async def test_marks_of_a_batch_are_added_and_looked_up_together(backend: Backend) -> None:
    async with backend.unit_of_work() as uow:
        await uow.processed_events.add("event-1", NOW)
        await uow.processed_events.add_many(["event-2", "event-3"], NOW)
        assert await uow.processed_events.seen(["event-1", "event-3", "event-4"]) == {
            "event-1",
            "event-3",
        }
        await uow.commit()
    async with backend.unit_of_work() as uow:
        assert await uow.processed_events.seen(["event-2", "event-9"]) == {"event-2"}
        assert await uow.processed_events.seen([]) == set()
        with pytest.raises(Conflict):
            await uow.processed_events.add_many(["event-4", "event-2"], NOW)


async def test_a_batch_of_marks_first_in_a_unit_not_committed_is_forgotten(
    backend: Backend,
) -> None:
    """The batch calls may go straight to the driver: they still run in the unit's
    transaction when they are its first statements."""
    async with backend.unit_of_work() as uow:
        assert await uow.processed_events.seen(["batch-1"]) == set()
        await uow.processed_events.add_many(["batch-1", "batch-2"], NOW)
    async with backend.unit_of_work() as uow:
        await uow.processed_events.add_many(["batch-3"], NOW)
    async with backend.unit_of_work() as uow:
        assert await uow.processed_events.seen(["batch-1", "batch-2", "batch-3"]) == set()


async def test_a_claim_marks_and_returns_only_what_was_not_marked(backend: Backend) -> None:
    async with backend.unit_of_work() as uow:
        await uow.processed_events.add("event-1", NOW)
        await uow.commit()
    async with backend.unit_of_work() as uow:
        claimed = await uow.processed_events.claim(
            ["event-1", "event-2", "event-3", "event-2"], NOW
        )
        assert claimed == {"event-2", "event-3"}
        assert await uow.processed_events.claim(["event-3", "event-4"], NOW) == {"event-4"}
        assert await uow.processed_events.claim([], NOW) == set()
        assert await uow.processed_events.claim(["event-1", "event-4"], NOW) == set()
        await uow.commit()
    async with backend.unit_of_work() as uow:
        assert await uow.processed_events.seen(["event-2", "event-3", "event-4", "event-5"]) == {
            "event-2",
            "event-3",
            "event-4",
        }


async def test_a_claim_not_committed_is_forgotten(backend: Backend) -> None:
    async with backend.unit_of_work() as uow:
        assert await uow.processed_events.claim(["event-1"], NOW) == {"event-1"}
    async with backend.unit_of_work() as uow:
        assert await uow.processed_events.claim(["event-1"], NOW) == {"event-1"}


async def test_released_claims_do_not_stay_marked(backend: Backend) -> None:
    async with backend.unit_of_work() as uow:
        await uow.processed_events.add("kept", NOW)
        await uow.commit()
    async with backend.unit_of_work() as uow:
        await uow.processed_events.claim(["event-1", "event-2", "event-3"], NOW)
        await uow.processed_events.release(["event-1", "event-3"])
        await uow.processed_events.release([])
        assert await uow.processed_events.seen(["event-1", "event-2", "event-3"]) == {"event-2"}
        await uow.commit()
    async with backend.unit_of_work() as uow:
        assert await uow.processed_events.seen(["event-1", "event-2", "event-3", "kept"]) == {
            "event-2",
            "kept",
        }
