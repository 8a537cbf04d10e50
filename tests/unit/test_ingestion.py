"""Durable ingestion on the memory adapters: each event applied once, bad ones set aside."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
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
from dashboard_api.domain.model.channels import LIFECYCLE_TYPES
from dashboard_api.domain.model.ingestion import Lease
from dashboard_api.domain.model.tasks import TaskStatus
from dashboard_api.domain.ports import IngestDelivery
from dashboard_api.domain.services.ingestion import APPLIED, Ingestor, Verdict
from dashboard_api.domain.services.task_events import lifecycle_batch_handler
from dashboard_api.domain.services.tasks import TaskService
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
        self.ingestor = Ingestor(self.queue, block_ms=10, waiting_retry_seconds=0.05)
        self.ingestor.register_batch(
            LIFECYCLE_TYPES,
            lifecycle_batch_handler(self.tasks),
            opening=("task.created",),
            recover=self.tasks.announce_left_over,
        )

    async def send(self, **event: object) -> None:
        await self.queue.add(msgspec.json.encode(event))

    async def drain(self) -> None:
        """Rounds of the loop until nothing is left to read or retry."""
        for _ in range(20):
            await self.ingestor.step()
        await self.ingestor.settle()  # the last batch's announcements and acknowledgement
        assert self.ingestor.failing_since is None


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
    assert rig.queue.pending_count == 0


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
    assert rig.queue.pending_count == 0


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
    await rig.ingestor.step()  # takes the lease, finds nothing pending yet
    with pytest.raises(ConnectionError):
        await rig.ingestor.step()
    assert rig.queue.pending_count == 1  # not acknowledged: it is gone through again
    rig.tasks._uow = healthy
    await rig.drain()
    assert (await rig.tasks.get("t1")).status is TaskStatus.QUEUED
    assert rig.queue.pending_count == 0


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


async def test_the_loop_stops_even_when_a_library_swallowed_the_cancel() -> None:
    class Swallowing(MemoryIngestQueue):
        """As redis-py's commands can on Python 3.11 (asyncio.wait_for loses a cancel that
        lands as the inner call finishes)."""

        def __init__(self) -> None:
            super().__init__()
            self.reading = asyncio.Event()

        async def read(self, *, limit: int, block_ms: int) -> list[IngestDelivery]:
            self.reading.set()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(1)
            return []

    queue = Swallowing()
    running = asyncio.create_task(Ingestor(queue, block_ms=10).run())
    await queue.reading.wait()
    running.cancel()
    done, _ = await asyncio.wait([running], timeout=5)
    assert done, "the loop went on after it was cancelled"
    assert running.cancelled()


async def test_events_before_their_task_wait_for_it_and_keep_their_order(rig: Rig) -> None:
    await rig.send(event_id="e2", type="task.started", task_id="t1")
    await rig.send(event_id="e3", type="task.completed", task_id="t1", cost_usd="0.5")
    await rig.drain()
    assert rig.queue.rejected == []
    assert rig.queue.pending_count == 2  # held, not dead-lettered
    assert rig.ingestor.waiting == 2
    await rig.send(event_id="e1", type="task.created", task_id="t1", agent_type="coder")
    await rig.drain()
    task = await rig.tasks.get("t1")
    assert (task.status, task.cost_usd, task.version) == (TaskStatus.COMPLETED, Decimal("0.5"), 3)
    assert [event["status"] for event in rig.bus.on("task:t1")] == [
        "queued",
        "running",
        "completed",
    ]
    assert (rig.queue.pending_count, rig.ingestor.waiting, rig.queue.rejected) == (0, 0, [])


async def test_a_later_event_of_a_waiting_task_waits_behind_it(rig: Rig) -> None:
    await rig.send(event_id="e2", type="task.started", task_id="t1")
    await rig.drain()
    # Arrives in a later batch, after its task exists: it still must not overtake e2.
    await rig.send(event_id="e1", type="task.created", task_id="t1", agent_type="coder")
    await rig.send(event_id="e3", type="task.failed", task_id="t1", error="x")
    await rig.drain()
    task = await rig.tasks.get("t1")
    assert task.status is TaskStatus.FAILED
    assert task.started_at is not None
    assert rig.queue.rejected == []


async def test_a_restarted_consumer_applies_what_the_dead_one_left_once_and_in_order(
    rig: Rig,
) -> None:
    for n in range(50):
        await rig.send(event_id=f"c{n}", type="task.created", task_id=f"t{n}", agent_type="a")
        await rig.send(event_id=f"s{n}", type="task.started", task_id=f"t{n}")
        await rig.send(event_id=f"d{n}", type="task.completed", task_id=f"t{n}", cost_usd="0.01")
    # The first consumer read everything, committed the first 70 and died before acknowledging
    # any of them: a second consumer on the same queue goes through all 150 again.
    handed = await rig.queue.read(limit=150, block_ms=10)
    outcome = await lifecycle_batch_handler(rig.tasks)([d.payload for d in handed[:70]])
    assert outcome.after_commit is not None
    await outcome.after_commit()  # it announced them too (what follows the commit)
    rig.ingestor = Ingestor(rig.queue, block_ms=10)
    rig.ingestor.register_batch(LIFECYCLE_TYPES, lifecycle_batch_handler(rig.tasks))
    await rig.drain()
    for n in range(50):
        task = await rig.tasks.get(f"t{n}")
        assert (task.status, task.version) == (TaskStatus.COMPLETED, 3)
    assert sum(len(rig.bus.on(f"task:t{n}")) for n in range(50)) == 150  # each change once
    assert (rig.queue.pending_count, rig.queue.rejected) == (0, [])


async def test_one_bad_event_in_a_batch_does_not_hold_the_others(rig: Rig) -> None:
    await rig.send(event_id="e1", type="task.created", task_id="t1", agent_type="coder")
    await rig.send(event_id="e2", type="task.started", task_id="t1", input_tokens=-1)
    await rig.send(event_id="e3", type="task.created", task_id="t2", agent_type="coder")
    await rig.send(
        event_id="e4", type="task.created", task_id="t3", input_message="a\x00b", agent_type="coder"
    )
    await rig.drain()
    assert (await rig.tasks.get("t1")).status is TaskStatus.QUEUED
    assert (await rig.tasks.get("t2")).status is TaskStatus.QUEUED
    reasons = [reason for _, reason in rig.queue.rejected]
    assert len(reasons) == 2
    assert "NUL" in reasons[1]


async def test_an_event_the_store_cannot_hold_is_found_and_refused_alone(rig: Rig) -> None:
    class Unstorable(Exception):
        pass

    async def picky(payloads: Sequence[bytes]) -> list[Verdict]:
        if any(b"poison" in payload for payload in payloads):
            raise Unstorable("value out of range")
        return [APPLIED for _ in payloads]

    ingestor = Ingestor(rig.queue, block_ms=10, refusable=lambda exc: isinstance(exc, Unstorable))
    ingestor.register_batch(["thing"], picky)
    for name in ("a", "poison", "b"):
        await rig.queue.add(msgspec.json.encode({"type": "thing", "event_id": name}))
    for _ in range(3):
        await ingestor.step()
    assert ingestor.applied == 2
    assert [reason for _, reason in rig.queue.rejected] == [
        "thing: cannot be stored: value out of range"
    ]


async def test_a_standby_consumes_nothing_while_another_holds_the_lease() -> None:
    class HeldElsewhere(MemoryIngestQueue):
        async def lead(self) -> Lease:
            return Lease.ELSEWHERE

    queue = HeldElsewhere()
    await queue.add(b'{"type":"task.created","event_id":"e1","task_id":"t1","agent_type":"a"}')
    standby = Ingestor(queue, standby_poll_seconds=0.01)
    standby.register_batch(LIFECYCLE_TYPES, lifecycle_batch_handler(Rig().tasks))
    await standby.step()
    assert (standby.leading, standby.applied, (await queue.stats()).undelivered) == (False, 0, 1)


async def test_events_of_other_kinds_are_not_held_behind_a_waiting_task(rig: Rig) -> None:
    recorded: list[bytes] = []

    async def record(payload: bytes) -> None:
        recorded.append(payload)

    rig.ingestor.register("webhook_event", record)
    await rig.send(event_id="e2", type="task.started", task_id="t1")
    await rig.send(event_id="w1", type="webhook_event", task_id="t1")
    await rig.drain()
    assert len(recorded) == 1
    assert rig.ingestor.waiting == 1


async def test_handlers_registered_per_type_see_events_in_stream_order(rig: Rig) -> None:
    # As groote-ai's are: two tasks in one read must not have the second's "started" applied
    # before its "created" (grouping by handler did, and the started event was dead-lettered).
    seen: list[str] = []

    def handler(kind: str) -> Callable[[bytes], Awaitable[None]]:
        async def apply(payload: bytes) -> None:
            seen.append(f"{kind}:{msgspec.json.decode(payload)['task_id']}")

        return apply

    for kind in ("created", "started", "done"):
        rig.ingestor.register(f"x:{kind}", handler(kind))
    for task in ("a", "b"):
        for kind in ("created", "started", "done"):
            await rig.send(event_id=f"{task}{kind}", type=f"x:{kind}", task_id=task)
    await rig.drain()
    assert seen == ["created:a", "started:a", "done:a", "created:b", "started:b", "done:b"]
