"""Durable ingestion on the memory adapters: each event applied once, bad ones set aside."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

import msgspec
import pytest

from dashboard_api.adapters.memory import (
    MemoryDatabase,
    MemoryIngestQueue,
    MemoryTaskStore,
    MemoryUnitOfWork,
)
from dashboard_api.domain.ingestion import Ingestor
from dashboard_api.domain.task_events import LIFECYCLE_TYPES, lifecycle_handler
from dashboard_api.domain.task_service import TaskService
from dashboard_api.domain.tasks import TaskStatus
from tests.unit.fakes import RecordingBus, SteppingClock

START = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


class Rig:
    def __init__(self) -> None:
        self.db = MemoryDatabase()
        self.bus = RecordingBus()
        self.queue = MemoryIngestQueue()
        self.tasks = TaskService(
            unit_of_work=lambda: MemoryUnitOfWork(self.db),
            reads=MemoryTaskStore(self.db),
            bus=self.bus,
            clock=SteppingClock(START),
        )
        self.ingestor = Ingestor(self.queue, block_ms=10)
        for event_type in LIFECYCLE_TYPES:
            self.ingestor.register(event_type, lifecycle_handler(self.tasks))

    async def send(self, **event: object) -> None:
        await self.queue.add(msgspec.json.encode(event))

    async def drain(self) -> None:
        await self.ingestor.process(await self.queue.read(limit=100, block_ms=10))


@pytest.fixture
def rig() -> Rig:
    return Rig()


async def test_a_task_lives_its_life_through_lifecycle_events(rig: Rig) -> None:
    await rig.send(event_id="e1", type="task.created", task_id="t1", agent_type="coder")
    await rig.send(event_id="e2", type="task.started", task_id="t1")
    await rig.send(
        event_id="e3",
        type="task.completed",
        task_id="t1",
        cost_usd="0.0123",
        input_tokens=100,
        output_tokens=40,
        output="done",
    )
    await rig.drain()
    task = await rig.tasks.get("t1")
    assert task.status is TaskStatus.COMPLETED
    assert (task.cost_usd, task.input_tokens, task.output_tokens) == (Decimal("0.0123"), 100, 40)
    assert task.output == "done"
    statuses = [event["status"] for event in rig.bus.on("tasks")]
    assert statuses == ["queued", "running", "completed"]
    assert [event["status"] for event in rig.bus.on("task:t1")] == statuses
    assert rig.queue.pending == 0


async def test_a_redelivered_event_changes_nothing(rig: Rig) -> None:
    created = {"event_id": "e1", "type": "task.created", "task_id": "t1", "agent_type": "coder"}
    await rig.send(**created)
    await rig.send(event_id="e2", type="task.failed", task_id="t1", error="boom")
    await rig.send(**created)
    await rig.send(event_id="e2", type="task.failed", task_id="t1", error="boom")
    await rig.drain()
    task = await rig.tasks.get("t1")
    assert (task.status, task.version) == (TaskStatus.FAILED, 2)
    assert len(rig.bus.on("tasks")) == 2  # announced once per applied event
    assert (rig.ingestor.applied, rig.ingestor.rejected) == (4, 0)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"not json", "not an event"),
        (b'{"type":"task.created"}', "not an event"),
        (b'{"event_id":"x","type":"moon.landed"}', "unknown event type"),
        (b'{"event_id":"x","type":"task.created","task_id":"t"}', "agent_type"),
        (b'{"event_id":"x","type":"task.started","task_id":"nobody"}', "does not exist"),
        (b'{"event_id":"x","type":"task.completed","task_id":"t","cost_usd":"-1"}', "cost_usd"),
    ],
)
async def test_an_invalid_event_is_rejected_and_acknowledged(
    rig: Rig, payload: bytes, reason: str
) -> None:
    if b'"task_id":"t"' in payload and b"created" not in payload:
        await rig.send(event_id="c", type="task.created", task_id="t", agent_type="coder")
    await rig.queue.add(payload)
    await rig.drain()
    assert len(rig.queue.rejected) == 1
    assert reason in rig.queue.rejected[0][1]
    assert rig.queue.pending == 0


async def test_an_illegal_transition_is_rejected_without_change(rig: Rig) -> None:
    await rig.send(event_id="e1", type="task.created", task_id="t1", agent_type="coder")
    await rig.send(event_id="e2", type="task.cancelled", task_id="t1")
    await rig.send(event_id="e3", type="task.started", task_id="t1")
    await rig.drain()
    assert (await rig.tasks.get("t1")).status is TaskStatus.CANCELLED
    assert "cannot become running" in rig.queue.rejected[0][1]


async def test_a_failing_store_leaves_the_event_pending_for_a_retry(rig: Rig) -> None:
    await rig.send(event_id="e1", type="task.created", task_id="t1", agent_type="coder")
    healthy = rig.tasks._uow

    def broken() -> MemoryUnitOfWork:
        raise ConnectionError("database down")

    rig.tasks._uow = broken
    with pytest.raises(ConnectionError):
        await rig.drain()
    assert rig.queue.pending == 1  # not acknowledged: it will be claimed again
    rig.tasks._uow = healthy
    await rig.ingestor.process(await rig.queue.claim_stale(limit=10))
    assert (await rig.tasks.get("t1")).status is TaskStatus.QUEUED
    assert rig.queue.pending == 0


async def test_the_loop_consumes_until_cancelled(rig: Rig) -> None:
    running = asyncio.create_task(rig.ingestor.run())
    await rig.send(event_id="e1", type="task.created", task_id="t1", agent_type="coder")
    for _ in range(200):
        if rig.ingestor.applied:
            break
        await asyncio.sleep(0.01)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert (await rig.tasks.get("t1")).agent_type == "coder"
