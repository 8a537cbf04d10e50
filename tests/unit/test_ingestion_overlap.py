"""The ingestor's overlapped stages: batch N announced and acknowledged while N+1 is read and
applied, one batch deep, without weakening order, exactly-once or a clean stop."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from dashboard_api.adapters.memory import MemoryIngestQueue
from dashboard_api.domain.errors import NotFound
from dashboard_api.domain.model.channels import LIFECYCLE_TYPES, Event
from dashboard_api.domain.model.tasks import TaskStatus
from dashboard_api.domain.ports import IngestDelivery
from dashboard_api.domain.services.ingestion import Ingestor
from dashboard_api.domain.services.task_events import lifecycle_batch_handler
from tests.unit.fakes import RecordingBus
from tests.unit.test_ingestion import Rig


class GatedBus(RecordingBus):
    """Holds each `publish_many` until the test opens the gate; counts the calls started and
    those running at once."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.started = 0
        self.running = 0
        self.most_at_once = 0

    async def publish_many(self, events: Sequence[tuple[str, Event]]) -> list[str]:
        self.started += 1
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        try:
            await self.gate.wait()
            return await super().publish_many(events)
        finally:
            self.running -= 1


def gated_rig(batch: int) -> tuple[Rig, GatedBus]:
    rig = Rig()
    bus = GatedBus()
    rig.tasks._bus = bus
    rig.bus = bus
    rig.ingestor = Ingestor(rig.queue, batch=batch, block_ms=10, waiting_retry_seconds=0.05)
    rig.ingestor.register_batch(
        LIFECYCLE_TYPES,
        lifecycle_batch_handler(rig.tasks),
        opening=("task.created",),
        recover=rig.tasks.announce_left_over,
    )
    return rig, bus


async def eventually(condition: object, what: str) -> None:
    for _ in range(500):
        if callable(condition) and await condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never happened: {what}")


async def test_the_next_batch_is_applied_while_the_last_is_announced_and_order_is_kept() -> None:
    rig, bus = gated_rig(batch=2)
    await rig.send(event_id="c1", type="task.created", task_id="t1", agent_type="coder")
    await rig.send(event_id="s1", type="task.started", task_id="t1")
    await rig.send(event_id="d1", type="task.completed", task_id="t1", cost_usd="0.5")
    await rig.send(event_id="c2", type="task.created", task_id="t2", agent_type="coder")
    await rig.ingestor.step()  # takes the lease; nothing pending yet
    await rig.ingestor.step()  # batch 1 (c1, s1) committed; its announcement held

    async def announcing() -> bool:
        return bus.running == 1

    await eventually(announcing, "batch 1's announcement started")
    second = asyncio.create_task(rig.ingestor.step())  # batch 2 (d1, c2)

    async def second_committed() -> bool:
        return (await rig.tasks.get("t1")).status is TaskStatus.COMPLETED

    await eventually(second_committed, "batch 2 applied while batch 1 is being announced")
    # Batch 1 is neither announced nor acknowledged yet, and batch 2's announcement waits
    # behind it: committed is not acknowledged, and announcements never overtake.
    assert (bus.started, rig.queue.pending_count, rig.ingestor.applied) == (1, 4, 0)
    assert not second.done()
    bus.gate.set()
    await second
    await rig.ingestor.settle()
    assert bus.most_at_once == 1
    assert [event["status"] for event in bus.on("task:t1")] == ["queued", "running", "completed"]
    assert [(e["task_id"], e["status"]) for e in bus.on("tasks")] == [
        ("t1", "queued"),
        ("t1", "running"),
        ("t1", "completed"),
        ("t2", "queued"),
    ]
    assert (rig.queue.pending_count, rig.ingestor.applied) == (0, 4)


async def test_a_batch_that_fails_with_a_read_in_flight_is_gone_through_again_in_order() -> None:
    rig, bus = gated_rig(batch=1)
    bus.gate.set()
    await rig.send(event_id="c1", type="task.created", task_id="t1", agent_type="coder")
    await rig.send(event_id="s1", type="task.started", task_id="t1")
    await rig.send(event_id="d1", type="task.completed", task_id="t1")
    healthy = rig.tasks._uow
    rig.tasks._uow = _broken
    await rig.ingestor.step()  # takes the lease
    try:
        await rig.ingestor.step()  # reads c1, sends the read of s1, fails to apply c1
    except ConnectionError:
        pass
    else:
        raise AssertionError("the broken store did not fail the batch")
    rig.tasks._uow = healthy
    await rig.drain()
    task = await rig.tasks.get("t1")
    assert (task.status, task.version) == (TaskStatus.COMPLETED, 3)
    assert [event["status"] for event in bus.on("task:t1")] == ["queued", "running", "completed"]
    assert (rig.queue.pending_count, rig.ingestor.applied, rig.queue.rejected) == (0, 3, [])


def _broken() -> object:
    raise ConnectionError("database down")


class SlowAck(MemoryIngestQueue):
    """Acknowledges late, so a pass over pending entries could meet an acknowledgement in
    flight."""

    async def ack(self, deliveries: Sequence[IngestDelivery]) -> None:
        await asyncio.sleep(0.03)
        await super().ack(deliveries)


async def test_a_pass_over_pending_entries_waits_for_acknowledgements_in_flight() -> None:
    rig = Rig()
    rig.queue = SlowAck()
    rig.ingestor = Ingestor(rig.queue, batch=2, block_ms=10, waiting_retry_seconds=0.0)
    rig.ingestor.register_batch(
        LIFECYCLE_TYPES, lifecycle_batch_handler(rig.tasks), opening=("task.created",)
    )
    # s2 waits for c2, so passes over the pending entries keep coming while batches are
    # acknowledged in the background.
    await rig.send(event_id="c1", type="task.created", task_id="t1", agent_type="coder")
    await rig.send(event_id="s2", type="task.started", task_id="t2")
    await rig.send(event_id="s1", type="task.started", task_id="t1")
    await rig.send(event_id="c2", type="task.created", task_id="t2", agent_type="coder")
    await rig.drain()
    assert (await rig.tasks.get("t2")).status is TaskStatus.RUNNING
    # Each event counted once: none was applied (as a duplicate) again by a pass that found
    # it still pending while its acknowledgement was on the way.
    assert (rig.ingestor.applied, rig.queue.pending_count, rig.queue.rejected) == (4, 0, [])
    assert len(rig.bus.on("tasks")) == 4


async def test_stopping_lets_the_last_batch_finish_announcing_and_acknowledging() -> None:
    rig, bus = gated_rig(batch=10)
    running = asyncio.create_task(rig.ingestor.run())
    await rig.send(event_id="c1", type="task.created", task_id="t1", agent_type="coder")

    async def announcing() -> bool:
        return bus.running == 1

    await eventually(announcing, "the committed batch is being announced")
    running.cancel()  # while its announcement is under way: it gets its grace
    await asyncio.sleep(0.05)
    bus.gate.set()
    await asyncio.gather(running, return_exceptions=True)
    assert rig.queue.pending_count == 0
    assert [event["status"] for event in rig.bus.on("task:t1")] == ["queued"]


async def test_stopping_cancels_an_announcement_that_hangs_and_leaks_nothing() -> None:
    rig, bus = gated_rig(batch=10)  # the gate stays shut: the announcement hangs
    rig.ingestor._stop_grace = 0.05
    before = asyncio.all_tasks()
    running = asyncio.create_task(rig.ingestor.run())
    await rig.send(event_id="c1", type="task.created", task_id="t1", agent_type="coder")

    async def announcing() -> bool:
        return bus.running == 1

    await eventually(announcing, "the batch's announcement started")
    assert (await rig.tasks.get("t1")).status is TaskStatus.QUEUED  # committed
    running.cancel()
    done, _ = await asyncio.wait([running], timeout=5)
    assert done, "the loop did not stop"
    assert bus.running == 0  # the announcement was cancelled, not left running
    # Not acknowledged: the entry stays pending, and its processed mark makes the redelivery
    # after a restart change nothing.
    assert rig.queue.pending_count == 1
    await asyncio.sleep(0)
    assert asyncio.all_tasks() - before == set()


async def test_a_stop_while_waiting_on_the_last_announcement_gives_it_its_grace() -> None:
    rig, bus = gated_rig(batch=2)
    rig.ingestor._stop_grace = 5.0
    before = asyncio.all_tasks()
    for n in (1, 2):
        await rig.send(event_id=f"c{n}", type="task.created", task_id=f"t{n}", agent_type="a")
        await rig.send(event_id=f"s{n}", type="task.started", task_id=f"t{n}")
    running = asyncio.create_task(rig.ingestor.run())

    async def second_batch_committed() -> bool:
        try:
            return (await rig.tasks.get("t2")).status is TaskStatus.RUNNING
        except NotFound:
            return False

    await eventually(second_batch_committed, "batch 2 applied while batch 1 is announcing")
    assert bus.running == 1
    running.cancel()  # lands while the loop waits for batch 1's announcement
    await asyncio.sleep(0.05)
    assert not running.done()  # batch 1 is given its grace
    bus.gate.set()
    await asyncio.wait([running], timeout=5)
    assert running.done()
    # Batch 1 announced and acknowledged; batch 2 committed but neither (its entries stay
    # pending: after a restart their marks make them change nothing, and the recovery of that
    # restart's first pass publishes what batch 2 staged).
    assert [e["task_id"] for e in bus.on("tasks")] == ["t1", "t1"]
    assert rig.queue.pending_count == 2
    await asyncio.sleep(0)
    assert asyncio.all_tasks() - before == set()


class FailsFirstPublish(RecordingBus):
    """Refuses the first publish of staged announcements (Redis went away for a moment),
    keeping them staged, as the Redis bus does when its script call fails."""

    def __init__(self) -> None:
        super().__init__()
        self.refused = 0

    async def publish_staged(self, outbox: str, token: str) -> None:
        if not self.refused:
            self.refused += 1
            raise ConnectionError("redis went away")
        await super().publish_staged(outbox, token)


async def test_a_failed_announcement_and_the_next_batch_s_are_published_by_recovery_in_order() -> (
    None
):
    """Batch 1's publish fails in the background while batch 2 commits: batch 2's is not
    started (it would overtake batch 1's); the pass over pending entries that the failure
    leads to first publishes both, oldest first, each once, then acknowledges everything."""
    rig, _ = gated_rig(batch=2)
    bus = FailsFirstPublish()
    rig.tasks._bus = bus
    rig.bus = bus
    await rig.send(event_id="c1", type="task.created", task_id="t1", agent_type="coder")
    await rig.send(event_id="s1", type="task.started", task_id="t1")
    await rig.send(event_id="d1", type="task.completed", task_id="t1", cost_usd="0.5")
    await rig.send(event_id="c2", type="task.created", task_id="t2", agent_type="coder")
    await rig.ingestor.step()  # takes the lease
    await rig.ingestor.step()  # batch 1 committed; its publish fails in the background
    try:
        await rig.ingestor.step()  # batch 2 committed; then batch 1's failure surfaces
    except ConnectionError:
        pass
    else:
        raise AssertionError("the failed announcement did not fail the round")
    assert bus.on("tasks") == []
    assert (await rig.tasks.get("t1")).status is TaskStatus.COMPLETED
    await rig.drain()
    assert [(e["task_id"], e["status"]) for e in bus.on("tasks")] == [
        ("t1", "queued"),
        ("t1", "running"),
        ("t1", "completed"),
        ("t2", "queued"),
    ]
    assert await bus.staged("dashboard:ingest:announcing") == []
    assert (rig.queue.pending_count, rig.queue.rejected) == (0, [])
