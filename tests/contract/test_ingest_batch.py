"""An ingest batch, written set-based (one statement per table), ends exactly where the same
events applied one at a time end: tasks, verdicts, rollups, conversation totals and spend, on
every adapter."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from dashboard_api.domain.errors import DomainError, NotFound
from dashboard_api.domain.model.conversations import Conversation
from dashboard_api.domain.model.rollups import RollupQuery, RollupSource
from dashboard_api.domain.model.spend import SpendDimension
from dashboard_api.domain.model.tasks import NewTask, TaskPatch, TaskStatus
from dashboard_api.domain.services.spend import SpendService
from dashboard_api.domain.services.tasks import TaskService
from tests.contract.conftest import Backend
from tests.unit.fakes import RecordingBus

NOW = datetime(2026, 11, 20, 12, 30, tzinfo=UTC)
Change = NewTask | tuple[str, TaskPatch]


def _events(p: str) -> list[tuple[str, Change]]:
    """Creates, several changes of one task, a redelivery, illegal events, a corrected cost,
    events of a task that never arrives, tasks sharing a conversation, source and hour."""

    def new(task: str, conversation: str | None, source: str, hours_ago: int = 0) -> NewTask:
        return NewTask(
            agent_type=f"{p}coder",
            task_id=f"{p}{task}",
            source=f"{p}{source}",
            model="m1",
            conversation_id=None if conversation is None else f"{p}{conversation}",
            created_at=NOW - timedelta(hours=hours_ago),
        )

    def patch(task: str, **fields: object) -> tuple[str, TaskPatch]:
        return f"{p}{task}", TaskPatch(**fields)  # type: ignore[arg-type]

    done, failed, running = TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.RUNNING
    return [
        (f"{p}e1", new("t1", "c1", "slack")),
        (f"{p}e2", new("t2", "c2", "api", hours_ago=3)),
        (f"{p}e3", patch("t1", status=running)),
        (f"{p}e1", new("t1", "c1", "slack")),  # redelivered: changes nothing
        (f"{p}e4", patch("t1", status=done, cost_usd=Decimal("0.10"), input_tokens=7)),
        (f"{p}e5", patch("t1", status=running)),  # illegal: a finished task cannot run again
        (f"{p}e6", patch("t2", status=done, cost_usd=Decimal("0.333333"), output_tokens=5)),
        (f"{p}e7", new("t3", None, "slack")),
        (f"{p}e8", patch("t3", status=failed, cost_usd=Decimal("0.01"), error="boom")),
        (f"{p}e9", patch("t1", status=done, cost_usd=Decimal("0.25"))),  # a corrected cost
        (f"{p}e10", patch("t9", status=running)),  # its task never arrives: waits
        (f"{p}e11", patch("t9", status=done)),  # waits behind it
        (f"{p}e12", new("t4", "c1", "api")),
        (f"{p}e13", new("t2", None, "api")),  # the id is taken: refused
        (f"{p}e14", patch("t4", status=done, cost_usd=Decimal("1.000001"), input_tokens=3)),
        (f"{p}e15", patch("t2", status=running)),  # illegal too
    ]


async def _seed(backend: Backend, p: str) -> None:
    async with backend.unit_of_work() as uow:
        for conversation, user in (("c1", "alice"), ("c2", "bob")):
            await uow.conversations.add(
                Conversation(
                    conversation_id=f"{p}{conversation}",
                    title="t",
                    agent_type="coder",
                    user_id=f"{p}{user}",
                    created_at=NOW - timedelta(days=1),
                    updated_at=NOW - timedelta(days=1),
                )
            )
        await uow.commit()


async def _one_by_one(service: TaskService, events: list[tuple[str, Change]]) -> list[str]:
    kinds = []
    for event_id, change in events:
        try:
            await service.ingest(event_id, change)
        except NotFound:
            kinds.append("waiting")
        except DomainError:
            kinds.append("refused")
        else:
            kinds.append("applied")
    return kinds


async def _outcome(backend: Backend, service: TaskService, p: str) -> dict[str, object]:
    """Everything the events moved, with the namespace taken out of keys."""
    tasks = {}
    for name in ("t1", "t2", "t3", "t4", "t9"):
        try:
            task = await service.get(f"{p}{name}")
        except NotFound:
            continue
        fields = (task.status, task.version, task.cost_usd, task.input_tokens, task.output_tokens)
        tasks[name] = (*fields, task.error, task.started_at, task.completed_at)
    conversations = {}
    for name in ("c1", "c2"):
        conversation = await backend.conversations.get(f"{p}{name}")
        assert conversation is not None
        conversations[name] = conversation.totals
    spend = {}
    for dimension in SpendDimension:
        totals = await SpendService(backend.spend).totals(dimension, None, None)
        spend[dimension] = sorted(
            (t.key.removeprefix(p), t.tasks, t.cost_usd, t.input_tokens, t.output_tokens)
            for t in totals
            if t.key.startswith(p)
        )
    (rollups,) = await backend.rollups.read(
        RollupQuery(
            source=RollupSource.HOURS,
            agent_type=f"{p}coder",
            by_time=True,
            by_agent_type=True,
            by_model=True,
        )
    )
    return {
        "tasks": tasks,
        "conversations": conversations,
        "spend": spend,
        "rollups": sorted((r.start, r.model, r.figures) for r in rollups if not r.figures.is_empty),
    }


async def test_a_batch_ends_where_the_same_events_one_by_one_end(backend: Backend) -> None:
    services = {
        p: TaskService(
            unit_of_work=backend.unit_of_work,
            reads=backend.reads,
            bus=RecordingBus(),
            clock=lambda: NOW,
        )
        for p in ("one-", "bat-")
    }
    for p in services:
        await _seed(backend, p)
    expected_kinds = await _one_by_one(services["one-"], _events("one-"))
    verdicts = await services["bat-"].ingest_batch(_events("bat-"))
    assert [verdict.kind for verdict in verdicts] == expected_kinds
    assert (expected_kinds.count("refused"), expected_kinds.count("waiting")) == (3, 2)
    one, batch = [await _outcome(backend, services[p], p) for p in ("one-", "bat-")]
    assert batch == one
    assert one["tasks"]["t1"][:3] == (TaskStatus.COMPLETED, 4, Decimal("0.25"))  # type: ignore[index]
    spend_by_user = dict((row[0], row[2]) for row in one["spend"][SpendDimension.USER])  # type: ignore[index]
    assert spend_by_user == {"alice": Decimal("1.250001"), "bob": Decimal("0.333333")}


class DiesBeforeAnnouncing(RecordingBus):
    """A bus that keeps what is staged and fails the publish after the commit, as when the
    process is killed there (or Redis drops the connection)."""

    async def publish_staged(self, outbox: str, token: str) -> None:
        raise ConnectionError("killed between the commit and the announcement")


def _lifecycle(p: str) -> list[tuple[str, Change]]:
    running, done = TaskStatus.RUNNING, TaskStatus.COMPLETED
    return [
        (f"{p}a1", NewTask(agent_type="coder", task_id=f"{p}a", created_at=NOW)),
        (f"{p}b1", NewTask(agent_type="coder", task_id=f"{p}b", created_at=NOW)),
        (f"{p}a2", (f"{p}a", TaskPatch(status=running))),
        (f"{p}a3", (f"{p}a", TaskPatch(status=done, cost_usd=Decimal("0.5")))),
        (f"{p}b2", (f"{p}b", TaskPatch(status=running))),
    ]


async def test_changes_committed_by_a_process_that_died_before_announcing_them_are_announced_once(
    backend: Backend,
) -> None:
    """Issue 9 (bench/chaos.py): a batch committed, then the process died before publishing
    its `task_status` events. The redelivered batch changes nothing (its marks), and before it
    the next process publishes what the dead one staged: every change once, in order."""
    p = "announce-"
    bus = DiesBeforeAnnouncing()
    dying = TaskService(unit_of_work=backend.unit_of_work, reads=backend.reads, bus=bus)
    with pytest.raises(ConnectionError):
        await dying.ingest_batch(_lifecycle(p))
    assert bus.on("tasks") == []
    assert (await backend.reads.get(f"{p}a")).version == 3  # type: ignore[union-attr]
    survivor = RecordingBus()
    survivor._outboxes = bus._outboxes  # the same Redis, another process
    after = TaskService(unit_of_work=backend.unit_of_work, reads=backend.reads, bus=survivor)
    verdicts = await after.ingest_batch(_lifecycle(p))  # redelivered: already applied
    assert {verdict.kind for verdict in verdicts} == {"applied"}
    announced = [(event["task_id"], event["version"]) for event in survivor.on("tasks")]
    assert announced == [(f"{p}a", 1), (f"{p}b", 1), (f"{p}a", 2), (f"{p}a", 3), (f"{p}b", 2)]
    assert await survivor.staged("dashboard:ingest:announcing") == []
    await after.ingest_batch(_lifecycle(p))  # once only
    assert len(survivor.on("tasks")) == 5


class FailsToCommit:
    """A unit of work whose commit fails (the database went away during it)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    async def __aenter__(self) -> FailsToCommit:
        await self._inner.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._inner.__aexit__(*exc)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def commit(self) -> None:
        raise ConnectionError("the database went away")


async def test_announcements_of_a_batch_that_did_not_commit_are_dropped(backend: Backend) -> None:
    """The same process applies the batch again (its entries stay pending): what it staged the
    first time is dropped, never published beside what it stages now."""
    await _applied_again_after_a_failure(
        backend, "uncommitted-", RecordingBus(), FailsToCommit, left=True
    )


async def _applied_again_after_a_failure(
    backend: Backend, p: str, bus: RecordingBus, failing: type[FailsToCommit], *, left: bool
) -> None:
    """The batch fails once (its unit of work wrapped in `failing`) after its stage landed;
    applied again, only the new stage's announcement is published: the first is dropped (at
    once when the failure was before the commit, else by the recovery: `left`)."""
    fails = True

    def unit_of_work() -> Any:
        inner = backend.unit_of_work()
        return failing(inner) if fails else inner

    service = TaskService(unit_of_work=unit_of_work, reads=backend.reads, bus=bus)
    with pytest.raises(ConnectionError):
        await service.ingest_batch(_lifecycle(p))
    assert await bus.staged("dashboard:ingest:announcing") == ([f"{p}a1"] if left else [])
    assert await backend.reads.get(f"{p}a") is None
    fails = False
    await service.ingest_batch(_lifecycle(p)[:1])  # applied now: only its own announcement
    assert [(e["task_id"], e["version"]) for e in bus.on("tasks")] == [(f"{p}a", 1)]
    assert await bus.staged("dashboard:ingest:announcing") == []


async def test_only_the_applied_events_of_a_batch_stay_marked(backend: Backend) -> None:
    """The batch claims every event's mark first; those that waited or were refused are
    released in the same transaction: applied later (their task arrived), they apply."""
    p = "claims-"
    await _seed(backend, p)
    service = TaskService(
        unit_of_work=backend.unit_of_work,
        reads=backend.reads,
        bus=RecordingBus(),
        clock=lambda: NOW,
    )
    events = _events(p)
    verdicts = await service.ingest_batch(events)
    kinds = {e: v.kind for (e, _), v in zip(events, verdicts, strict=True)}
    unapplied = [f"{p}e{n}" for n in (5, 10, 11, 13, 15)]
    assert {kinds[event_id] for event_id in unapplied} == {"waiting", "refused"}
    async with backend.unit_of_work() as uow:
        marked = await uow.processed_events.seen([event_id for event_id, _ in events])
    assert marked == {event_id for event_id, _ in events} - set(unapplied)
    created = (f"{p}e16", NewTask(agent_type="coder", task_id=f"{p}t9", created_at=NOW))
    waited = [event for event in events if event[0] in (f"{p}e10", f"{p}e11")]
    later = await service.ingest_batch([created, *waited])
    assert [verdict.kind for verdict in later] == ["applied"] * 3
    assert (await service.get(f"{p}t9")).status is TaskStatus.COMPLETED


class SlowStage(RecordingBus):
    """Staging takes a while (a Redis round trip), so it is still under way while the batch's
    rows are written; `fails` makes it fail at the end."""

    fails = False

    async def stage(self, outbox: str, token: str, events: Any) -> None:
        await asyncio.sleep(0.05)
        if self.fails:
            raise ConnectionError("Redis went away while staging")
        await super().stage(outbox, token, events)


async def test_a_batch_whose_stage_fails_is_rolled_back(backend: Backend) -> None:
    p = "stagefails-"
    bus = SlowStage()
    bus.fails = True
    service = TaskService(unit_of_work=backend.unit_of_work, reads=backend.reads, bus=bus)
    with pytest.raises(ConnectionError):
        await service.ingest_batch(_lifecycle(p))
    assert await backend.reads.get(f"{p}a") is None
    async with backend.unit_of_work() as uow:
        assert await uow.processed_events.seen([event_id for event_id, _ in _lifecycle(p)]) == set()
    bus.fails = False
    verdicts = await service.ingest_batch(_lifecycle(p))
    assert {verdict.kind for verdict in verdicts} == {"applied"}
    assert [(e["task_id"], e["version"]) for e in bus.on("tasks")][-1] == (f"{p}b", 2)


class FailsToWrite(FailsToCommit):
    """A unit of work whose batch write of the tasks fails (a statement refused)."""

    @property
    def tasks(self) -> Any:
        return FailingWrites(self._inner.tasks)


class FailingWrites:
    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def save_many(self, *args: Any) -> None:
        raise ConnectionError("the write failed")

    add_many = replace_many = save_many


async def test_a_write_failing_while_the_stage_is_under_way_leaves_nothing_announced(
    backend: Backend,
) -> None:
    """The stage runs beside the writes: when a write fails, the stage is waited for (it may
    have landed) and its announcements are dropped by the next batch (no mark: not committed)."""
    await _applied_again_after_a_failure(
        backend, "writefails-", SlowStage(), FailsToWrite, left=False
    )
    assert (await backend.reads.get("writefails-a")).version == 1  # type: ignore[union-attr]


async def test_a_batch_applied_again_without_recovery_publishes_only_its_own_stage(
    backend: Backend,
) -> None:
    """The ingestor applies a batch that failed before its commit again at once, one event at
    a time, to find the one the database refuses: no recovery runs in between. The stage of
    the failed batch (same token: its first event) must not be published with the new one,
    even if it could not be dropped."""
    p = "again-"
    bus = RecordingBus()
    failed = list(_lifecycle(p))
    await bus.stage("dashboard:ingest:announcing", f"{p}a1", [("tasks", {"stale": True})])
    service = TaskService(unit_of_work=backend.unit_of_work, reads=backend.reads, bus=bus)
    verdicts, announce = await service.apply_batch(failed[:1])
    assert [verdict.kind for verdict in verdicts] == ["applied"]
    assert announce is not None
    await announce()
    assert [(e.get("task_id"), e.get("version")) for e in bus.on("tasks")] == [(f"{p}a", 1)]
    assert await bus.staged("dashboard:ingest:announcing") == []
