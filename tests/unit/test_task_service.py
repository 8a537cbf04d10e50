"""Task use cases on the memory adapters: lifecycle rules, events, pagination."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import msgspec
import pytest

from dashboard_api.adapters.memory import MemoryDatabase, MemoryTaskStore, MemoryUnitOfWork
from dashboard_api.domain.errors import Conflict, InvalidInput, NotFound
from dashboard_api.domain.model.tasks import (
    NewTask,
    Task,
    TaskCursor,
    TaskPatch,
    TaskQuery,
    TaskStatus,
)
from dashboard_api.domain.pagination import decode_cursor
from dashboard_api.domain.services.tasks import TaskService
from tests.unit.fakes import RecordingBus, SteppingClock

START = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> SteppingClock:
    return SteppingClock(START)


@pytest.fixture
def bus() -> RecordingBus:
    return RecordingBus()


@pytest.fixture
def service(bus: RecordingBus, clock: SteppingClock) -> TaskService:
    db = MemoryDatabase()
    return TaskService(
        unit_of_work=lambda: MemoryUnitOfWork(db),
        reads=MemoryTaskStore(db),
        bus=bus,
        clock=clock,
        configured_agents=("planner", "idle-agent"),
    )


async def test_a_registered_task_is_queued_with_a_time_ordered_id(service: TaskService) -> None:
    first = await service.register(NewTask(agent_type="coder", input_message="fix it"))
    second = await service.register(NewTask(agent_type="coder"))
    assert first.status is TaskStatus.QUEUED
    assert first.created_at == START
    assert len(first.task_id) == 36
    assert first.task_id[14] == "7"
    assert first.task_id < second.task_id or first.task_id[:13] == second.task_id[:13]


async def test_a_client_supplied_id_is_kept_and_cannot_be_reused(service: TaskService) -> None:
    await service.register(NewTask(agent_type="coder", task_id="t-1"))
    with pytest.raises(Conflict):
        await service.register(NewTask(agent_type="planner", task_id="t-1"))
    assert (await service.get("t-1")).agent_type == "coder"


async def test_a_task_runs_then_completes_with_its_figures(
    service: TaskService, clock: SteppingClock
) -> None:
    task = await service.register(NewTask(agent_type="coder"))
    clock.advance(seconds=5)
    running = await service.update(task.task_id, TaskPatch(status=TaskStatus.RUNNING))
    clock.advance(seconds=60)
    done = await service.update(
        task.task_id,
        TaskPatch(
            status=TaskStatus.COMPLETED,
            output="done",
            cost_usd=Decimal("0.1234565"),
            input_tokens=1200,
            output_tokens=300,
        ),
    )
    assert running.started_at == START + timedelta(seconds=5)
    assert done.completed_at == START + timedelta(seconds=65)
    assert done.duration_seconds == 65
    assert done.run_seconds == 60
    assert done.cost_usd == Decimal("0.123456")  # exact, rounded half-even to 6 places
    assert done.version == 3


@pytest.mark.parametrize("final", [TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED])
async def test_a_finished_task_never_changes_status(
    service: TaskService, final: TaskStatus
) -> None:
    task = await service.register(NewTask(agent_type="coder"))
    await service.update(task.task_id, TaskPatch(status=final))
    for other in TaskStatus:
        if other is final:
            continue
        with pytest.raises(Conflict) as raised:
            await service.update(task.task_id, TaskPatch(status=other))
        assert raised.value.context["current_status"] == final.value
    assert (await service.get(task.task_id)).status is final


async def test_a_running_task_cannot_go_back_to_the_queue(service: TaskService) -> None:
    task = await service.register(NewTask(agent_type="coder", status=TaskStatus.RUNNING))
    with pytest.raises(Conflict, match="is running"):
        await service.update(task.task_id, TaskPatch(status=TaskStatus.QUEUED))


async def test_reporting_the_same_final_state_again_is_a_harmless_retry(
    service: TaskService, bus: RecordingBus
) -> None:
    task = await service.register(NewTask(agent_type="coder"))
    done = await service.update(task.task_id, TaskPatch(status=TaskStatus.COMPLETED))
    published = len(bus.published)
    again = await service.update(task.task_id, TaskPatch(status=TaskStatus.COMPLETED))
    assert again == done
    assert len(bus.published) == published  # nothing changed, nothing announced


async def test_figures_of_a_finished_task_can_be_corrected(service: TaskService) -> None:
    task = await service.register(NewTask(agent_type="coder"))
    await service.update(task.task_id, TaskPatch(status=TaskStatus.COMPLETED, input_tokens=10))
    fixed = await service.update(task.task_id, TaskPatch(input_tokens=12))
    assert fixed.input_tokens == 12
    assert fixed.status is TaskStatus.COMPLETED


async def test_timestamps_must_follow_the_lifecycle(
    service: TaskService, clock: SteppingClock
) -> None:
    task = await service.register(NewTask(agent_type="coder"))
    with pytest.raises(InvalidInput) as raised:
        await service.update(
            task.task_id,
            TaskPatch(status=TaskStatus.RUNNING, started_at=START - timedelta(hours=1)),
        )
    assert raised.value.field == "started_at"
    with pytest.raises(InvalidInput):
        await service.update(task.task_id, TaskPatch(completed_at=START))
    with pytest.raises(InvalidInput):
        await service.register(NewTask(agent_type="x", created_at=START + timedelta(days=1)))
    assert (await service.get(task.task_id)).status is TaskStatus.QUEUED


async def test_a_new_task_cannot_start_finished(service: TaskService) -> None:
    with pytest.raises(InvalidInput):
        await service.register(NewTask(agent_type="coder", status=TaskStatus.COMPLETED))


async def test_unknown_tasks_are_not_found(service: TaskService) -> None:
    with pytest.raises(NotFound):
        await service.get("nope")
    with pytest.raises(NotFound):
        await service.update("nope", TaskPatch(status=TaskStatus.RUNNING))
    with pytest.raises(NotFound):
        await service.request_stop("nope")


async def test_every_change_is_announced_on_the_task_and_the_list(
    service: TaskService, bus: RecordingBus
) -> None:
    task = await service.register(NewTask(agent_type="coder"))
    await service.update(task.task_id, TaskPatch(status=TaskStatus.RUNNING))
    statuses = [event["status"] for event in bus.on(f"task:{task.task_id}")]
    assert statuses == ["queued", "running"]
    assert [event["status"] for event in bus.on("tasks")] == ["queued", "running"]
    assert all(event["type"] == "task_status" for event in bus.on("tasks"))


async def test_a_live_status_carries_what_the_list_row_shows(
    service: TaskService, bus: RecordingBus
) -> None:
    task = await service.register(
        NewTask(
            agent_type="coder",
            source="github",
            assigned_agent="coder-7",
            session_id="s-1",
            conversation_id="c-1",
            input_message="Fix the flaky test " + "x" * 500,
        )
    )
    await service.update(task.task_id, TaskPatch(status=TaskStatus.RUNNING))
    (row,) = (await service.list_tasks(TaskQuery(limit=1))).items
    listed = msgspec.to_builtins(row)
    for event in bus.on("tasks")[-1:] + bus.on(f"task:{task.task_id}")[-1:]:
        for field in ("source", "assigned_agent", "session_id", "conversation_id"):
            assert event[field] == listed[field]
        assert event["input_preview"] == listed["input_preview"]
        assert len(listed["input_preview"]) == 200
        assert event["status"] == listed["status"] == "running"


async def test_stopping_a_queued_task_cancels_it_and_tells_the_engine(
    service: TaskService, bus: RecordingBus
) -> None:
    task = await service.register(NewTask(agent_type="coder"))
    stopped = await service.request_stop(task.task_id)
    assert stopped.status is TaskStatus.CANCELLED
    assert bus.on("engine:commands") == [
        {"type": "stop_requested", "task_id": task.task_id, "requested_at": "2026-11-24T12:00:00Z"}
    ]


async def test_stopping_a_running_task_asks_the_engine_and_waits_for_it(
    service: TaskService, bus: RecordingBus
) -> None:
    task = await service.register(NewTask(agent_type="coder", status=TaskStatus.RUNNING))
    stopped = await service.request_stop(task.task_id)
    assert stopped.status is TaskStatus.RUNNING
    assert bus.on(f"task:{task.task_id}")[-1]["type"] == "stop_requested"


async def test_stopping_a_finished_task_is_a_conflict(service: TaskService) -> None:
    task = await service.register(NewTask(agent_type="coder"))
    await service.update(task.task_id, TaskPatch(status=TaskStatus.FAILED))
    with pytest.raises(Conflict):
        await service.request_stop(task.task_id)


async def test_pages_link_through_cursors_until_the_end(
    service: TaskService, clock: SteppingClock
) -> None:
    for _ in range(7):
        clock.advance(seconds=1)
        await service.register(NewTask(agent_type="coder"))
    first = await service.list_tasks(TaskQuery(limit=3))
    assert first.next_cursor is not None
    after = decode_cursor(first.next_cursor, TaskCursor)
    second = await service.list_tasks(TaskQuery(limit=3, after=after))
    third = await service.list_tasks(
        TaskQuery(limit=3, after=decode_cursor(second.next_cursor or "", TaskCursor))
    )
    assert [len(first.items), len(second.items), len(third.items)] == [3, 3, 1]
    assert third.next_cursor is None


async def test_agents_include_configured_ones_without_tasks(service: TaskService) -> None:
    await service.register(NewTask(agent_type="coder"))
    agents = {agent.agent_type: agent for agent in await service.agents()}
    assert sorted(agents) == ["coder", "idle-agent", "planner"]
    assert agents["coder"].queued == 1
    assert agents["idle-agent"].last_activity_at is None


def test_a_foreign_cursor_is_refused_naming_the_field() -> None:
    with pytest.raises(InvalidInput) as raised:
        decode_cursor("not-a-cursor!", TaskCursor)
    assert raised.value.field == "cursor"


async def test_an_engine_retry_past_the_retention_is_applied_again(
    service: TaskService, clock: SteppingClock
) -> None:
    first = await service.ingest("evt-1", NewTask(agent_type="coder", task_id="r-1"))
    assert first is not None
    assert await service.ingest("evt-1", NewTask(agent_type="coder", task_id="r-1")) is None
    clock.advance(days=8)
    assert await service.forget_processed_events(timedelta(days=7)) == 1
    with pytest.raises(Conflict):  # the mark is gone: the retry is new, and the id is taken
        await service.ingest("evt-1", NewTask(agent_type="coder", task_id="r-1"))


async def test_an_ingested_batch_is_announced_in_one_publish_many_in_order(
    service: TaskService, bus: RecordingBus
) -> None:
    running, completed = (
        TaskPatch(status=TaskStatus.RUNNING),
        TaskPatch(status=TaskStatus.COMPLETED),
    )
    await service.ingest_batch(
        [
            ("e1", NewTask(agent_type="coder", task_id="t-a")),
            ("e2", NewTask(agent_type="coder", task_id="t-b")),
            ("e3", ("t-a", running)),
            ("e4", ("t-b", running)),
            ("e5", ("t-a", completed)),
        ]
    )
    assert bus.batches == [10]  # five changes, each on task:{id} and tasks, in one go
    assert [event["status"] for event in bus.on("task:t-a")] == ["queued", "running", "completed"]
    assert [(event["task_id"], event["status"]) for event in bus.on("tasks")] == [
        ("t-a", "queued"),
        ("t-b", "queued"),
        ("t-a", "running"),
        ("t-b", "running"),
        ("t-a", "completed"),
    ]


async def test_a_change_computed_from_an_older_version_is_refused_and_writes_nothing(
    service: TaskService,
) -> None:
    """A running total computed from a task read before someone else changed it would
    overwrite their change: with the version it was computed from, it is a Conflict."""
    read = await service.register(NewTask(agent_type="coder", task_id="t-v"))
    await service.update("t-v", TaskPatch(input_tokens=100))  # someone else's addition
    stale = TaskPatch(input_tokens=read.input_tokens + 50)
    with pytest.raises(Conflict):
        await service.ingest("e-stale", ("t-v", stale), expected_version=read.version)
    with pytest.raises(Conflict):
        await service.update("t-v", stale, expected_version=read.version)
    current = await service.get("t-v")
    assert current.input_tokens == 100
    # Nothing was marked: the same event, computed again from the current task, applies.
    fresh = TaskPatch(input_tokens=current.input_tokens + 50)
    applied = await service.ingest("e-stale", ("t-v", fresh), expected_version=current.version)
    assert applied is not None
    assert applied.input_tokens == 150


def _adding(tokens: int, status: TaskStatus | None = None) -> Any:
    """An event's change computed from the task as it is: `tokens` more input tokens."""

    def change(current: Task, lifecycle: bool) -> TaskPatch | None:
        if status is not None and lifecycle:
            return TaskPatch(input_tokens=current.input_tokens + tokens, status=status)
        return TaskPatch(input_tokens=current.input_tokens + tokens)

    return change


async def test_computed_events_chain_their_totals_once_each(
    service: TaskService, bus: RecordingBus
) -> None:
    await service.register(NewTask(agent_type="coder", task_id="t-c"))
    first = [("e1", _adding(10, TaskStatus.RUNNING)), ("e2", _adding(20)), ("e1", _adding(10))]
    assert await service.ingest_computed("t-c", first) == [None, None, None]
    assert (await service.get("t-c")).input_tokens == 30  # e1 once, though sent twice
    # Sent again with one more: only e3 counts.
    again = [("e1", _adding(10)), ("e2", _adding(20)), ("e3", _adding(5))]
    assert await service.ingest_computed("t-c", again) == [None, None, None]
    task = await service.get("t-c")
    assert task.input_tokens == 35
    assert task.status is TaskStatus.RUNNING
    statuses = [e["input_tokens"] for e in bus.on("task:t-c") if "input_tokens" in e]
    assert statuses[-3:] == [10, 30, 35]  # each step announced, in order


async def test_a_refused_computed_event_changes_nothing_and_can_apply_later(
    service: TaskService,
) -> None:
    await service.register(NewTask(agent_type="coder", task_id="t-r"))

    def refused(current: Task, lifecycle: bool) -> TaskPatch:
        return TaskPatch(completed_at=START)  # only a finished task has completed_at

    outcome = await service.ingest_computed("t-r", [("r1", refused), ("r2", _adding(7))])
    assert isinstance(outcome[0], InvalidInput)
    assert outcome[1] is None
    assert (await service.get("t-r")).input_tokens == 7
    # r1's mark was released: the same event, now valid, applies.
    assert await service.ingest_computed("t-r", [("r1", _adding(1))]) == [None]
    assert (await service.get("t-r")).input_tokens == 8


async def test_a_computed_status_the_task_outgrew_still_adds_its_usage(
    service: TaskService,
) -> None:
    await service.register(NewTask(agent_type="coder", task_id="t-f"))
    await service.update("t-f", TaskPatch(status=TaskStatus.RUNNING))
    await service.update("t-f", TaskPatch(status=TaskStatus.COMPLETED))
    late = [("late", _adding(40, TaskStatus.RUNNING))]  # a child span after its parent
    assert await service.ingest_computed("t-f", late) == [None]
    task = await service.get("t-f")
    assert (task.status, task.input_tokens) == (TaskStatus.COMPLETED, 40)


async def test_computed_events_for_a_missing_task_are_refused(service: TaskService) -> None:
    with pytest.raises(NotFound):
        await service.ingest_computed("nobody", [("n1", _adding(1))])
