"""Operator actions on the memory adapters: bulk stop (bounded, per task) and retry (linked)."""

from __future__ import annotations

import pytest

from dashboard_api.adapters.memory import MemoryUnitOfWork
from dashboard_api.domain.errors import Conflict, InvalidInput
from dashboard_api.domain.model.tasks import NewTask, TaskPatch, TaskQuery, TaskStatus
from dashboard_api.domain.services.task_actions import StopOutcome, TaskActions
from tests.unit.world import ENGINE, World, build_world


@pytest.fixture
def world() -> World:
    return build_world()


def _actions(world: World) -> TaskActions:
    return TaskActions(
        unit_of_work=lambda: MemoryUnitOfWork(world.db),
        tasks=world.tasks,
        relay=world.relay,
        engine_queue=ENGINE,
        clock=world.clock,
    )


async def _task(world: World, agent_type: str, status: TaskStatus) -> str:
    task = await world.tasks.register(NewTask(agent_type=agent_type))
    if status is not TaskStatus.QUEUED:
        await world.tasks.update(task.task_id, TaskPatch(status=status))
    return task.task_id


async def test_bulk_stop_reports_each_matching_unfinished_task(world: World) -> None:
    queued = await _task(world, "coder", TaskStatus.QUEUED)
    running = await _task(world, "coder", TaskStatus.RUNNING)
    await _task(world, "coder", TaskStatus.COMPLETED)
    other = await _task(world, "planner", TaskStatus.RUNNING)
    report = await _actions(world).stop_matching(TaskQuery(agent_type="coder"), max_tasks=10)
    outcomes = {result.task_id: result.outcome for result in report.results}
    assert outcomes == {queued: StopOutcome.CANCELLED, running: StopOutcome.STOP_REQUESTED}
    assert not report.truncated
    assert (await world.tasks.get(other)).status is TaskStatus.RUNNING
    stops = [event for event in world.bus.on("engine:commands")]
    assert sorted(event["task_id"] for event in stops) == sorted([queued, running])


async def test_bulk_stop_is_bounded_and_says_so(world: World) -> None:
    ids = [await _task(world, "coder", TaskStatus.QUEUED) for _ in range(5)]
    actions = _actions(world)
    first = await actions.stop_matching(TaskQuery(), max_tasks=3)
    assert (len(first.results), first.truncated) == (3, True)
    second = await actions.stop_matching(TaskQuery(), max_tasks=3)
    assert (len(second.results), second.truncated) == (2, False)
    assert {r.task_id for r in first.results + second.results} == set(ids)
    finished_only = TaskQuery(statuses=(TaskStatus.COMPLETED,))
    assert (await actions.stop_matching(finished_only, max_tasks=3)).results == []
    with pytest.raises(InvalidInput):
        await actions.stop_matching(TaskQuery(), max_tasks=0)


async def test_a_failed_task_is_retried_as_a_new_linked_task_handed_to_the_engine(
    world: World,
) -> None:
    original = await world.tasks.register(
        NewTask(agent_type="coder", input_message="fix it", model="claude-sonnet-4")
    )
    await world.tasks.update(original.task_id, TaskPatch(status=TaskStatus.FAILED, error="boom"))
    retry = await _actions(world).retry(original.task_id, "retry-1")
    assert (retry.task_id, retry.status, retry.retry_of) == (
        "retry-1",
        TaskStatus.QUEUED,
        original.task_id,
    )
    assert (retry.input_message, retry.model, retry.error) == ("fix it", "claude-sonnet-4", None)
    assert (await world.tasks.get("retry-1")).retry_of == original.task_id
    (job,) = world.queue.entries(ENGINE)
    assert (job["task_id"], job["retry_of"], job["input_message"]) == (
        "retry-1",
        original.task_id,
        "fix it",
    )
    with pytest.raises(Conflict):  # the same request again: the id is taken
        await _actions(world).retry(original.task_id, "retry-1")


async def test_only_failed_or_cancelled_tasks_are_retried(world: World) -> None:
    running = await _task(world, "coder", TaskStatus.RUNNING)
    with pytest.raises(Conflict, match="only a failed or cancelled"):
        await _actions(world).retry(running)
    cancelled = await _task(world, "coder", TaskStatus.CANCELLED)
    assert (await _actions(world).retry(cancelled)).retry_of == cancelled
