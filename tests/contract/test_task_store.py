"""The TaskStore contract: what every adapter must do the same way."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

import msgspec
import pytest

from dashboard_api.domain.errors import Conflict
from dashboard_api.domain.model.cost import CostBreakdown, CostSource
from dashboard_api.domain.model.tasks import Task, TaskCursor, TaskQuery, TaskStatus, TaskView
from dashboard_api.http.encoding import encode_json
from dashboard_api.http.schemas.tasks import TaskDetail
from tests.contract.conftest import Backend
from tests.factories import EPOCH, TaskFactory
from tests.unit.test_task_view import random_task


async def _add(backend: Backend, *tasks: Task) -> None:
    async with backend.unit_of_work() as uow:
        for task in tasks:
            await uow.tasks.add(task)
        await uow.commit()


async def test_a_stored_task_reads_back_exactly(backend: Backend) -> None:
    task = TaskFactory.finished(
        cost_usd=Decimal("1.234567"),
        input_message="ünïcode ✓ " * 50,
        session_id="s-1",
        cache_read_tokens=7,
        cache_write_tokens=9,
        price_version="2026-11",
        cost_source=CostSource.COMPUTED,
    )
    await _add(backend, task)
    assert await backend.reads.get(task.task_id) == task


async def test_a_cost_keeps_its_source_and_breakdown_and_a_retry_its_original(
    backend: Backend,
) -> None:
    breakdown = CostBreakdown(
        input=Decimal("0.000003"),
        output=Decimal("1.5"),
        reasoning=Decimal("0.25"),
        cache_read=Decimal("0.000001"),
        cache_write_5m=Decimal(0),
        cache_write_1h=Decimal("0.012"),
        pattern="claude-sonnet-4*",
        effective_from=EPOCH,
        tier_above_prompt_tokens=200_000,
    )
    task = TaskFactory.finished(
        cost_usd=breakdown.total,
        price_version="2026-11-30",
        cost_source=CostSource.COMPUTED,
        cost_breakdown=breakdown,
        reported_cost_usd=Decimal("0.123456"),
        cache_write_tokens=9,
        cache_write_1h_tokens=4,
        reasoning_tokens=3,
    )
    reported = TaskFactory.finished(
        cost_usd=Decimal("2"),
        cost_source=CostSource.REPORTED,
        reported_cost_usd=Decimal("2"),
        retry_of=task.task_id,
    )
    await _add(backend, task, reported)
    assert await backend.reads.get(task.task_id) == task
    assert await backend.reads.get(reported.task_id) == reported


async def test_a_task_view_is_the_view_of_the_stored_task(backend: Backend) -> None:
    """`get_view` (a by-id read's answer, built from the row where the backend can) is
    `TaskView.of` the task `get` reads, and encodes as the HTTP detail of that task."""
    chance = random.Random(7)
    tasks = [random_task(chance, number) for number in range(60)]
    await _add(backend, *tasks)
    for task in tasks:
        stored = await backend.reads.get(task.task_id)
        assert stored is not None
        view = await backend.reads.get_view(task.task_id)
        assert view == TaskView.of(stored)
        assert encode_json(view) == encode_json(TaskDetail.of(stored))
    assert await backend.reads.get_view("no-such-task") is None


async def test_an_unknown_id_reads_as_none(backend: Backend) -> None:
    assert await backend.reads.get("missing") is None


async def test_a_duplicate_id_is_a_conflict_and_keeps_the_first(backend: Backend) -> None:
    first = TaskFactory.build(task_id="dup", agent_type="planner")
    await _add(backend, first)
    with pytest.raises(Conflict):
        await _add(backend, TaskFactory.build(task_id="dup", agent_type="coder"))
    assert await backend.reads.get("dup") == first


async def test_uncommitted_work_is_rolled_back(backend: Backend) -> None:
    task = TaskFactory.build()
    async with backend.unit_of_work() as uow:
        await uow.tasks.add(task)
        assert await uow.tasks.get(task.task_id) == task
    assert await backend.reads.get(task.task_id) is None


async def test_replace_applies_only_on_the_expected_version(backend: Backend) -> None:
    task = TaskFactory.build()
    await _add(backend, task)
    running = msgspec.structs.replace(task, status=TaskStatus.RUNNING, version=2)
    async with backend.unit_of_work() as uow:
        assert await uow.tasks.replace(running, expected_version=1)
        await uow.commit()
    stale = msgspec.structs.replace(task, status=TaskStatus.FAILED, version=2)
    async with backend.unit_of_work() as uow:
        assert not await uow.tasks.replace(stale, expected_version=1)
    assert await backend.reads.get(task.task_id) == running


async def test_find_pages_newest_first_without_gaps_or_repeats(backend: Backend) -> None:
    same_moment = EPOCH + timedelta(days=3)
    tasks = [TaskFactory.build(created_at=EPOCH + timedelta(minutes=i)) for i in range(23)]
    tasks += [TaskFactory.build(created_at=same_moment) for _ in range(5)]  # ties on created_at
    await _add(backend, *tasks)
    seen: list[str] = []
    after = None
    while True:
        page = await backend.reads.find(TaskQuery(limit=6, after=after))
        seen += [task.task_id for task in page]
        if len(page) < 6:
            break
        after = TaskCursor(page[-1].created_at, page[-1].task_id)
    expected = sorted(tasks, key=lambda task: (task.created_at, task.task_id), reverse=True)
    assert seen == [task.task_id for task in expected]


async def test_find_filters_combine(backend: Backend) -> None:
    match = TaskFactory.build(
        agent_type="coder",
        status=TaskStatus.RUNNING,
        source="github",
        assigned_agent="agent-7",
        session_id="s-9",
        conversation_id="c-3",
        created_at=EPOCH + timedelta(hours=5),
        input_message="Refactor the Billing module",
    )
    others = [
        msgspec.structs.replace(match, task_id="o1", agent_type="planner"),
        msgspec.structs.replace(match, task_id="o2", status=TaskStatus.QUEUED),
        msgspec.structs.replace(match, task_id="o3", source="jira"),
        msgspec.structs.replace(match, task_id="o4", assigned_agent="agent-8"),
        msgspec.structs.replace(match, task_id="o5", session_id="s-0"),
        msgspec.structs.replace(match, task_id="o6", conversation_id=None),
        msgspec.structs.replace(match, task_id="o7", created_at=EPOCH + timedelta(hours=9)),
        msgspec.structs.replace(match, task_id="o8", input_message="Write docs"),
    ]
    await _add(backend, match, *others)
    query = TaskQuery(
        statuses=(TaskStatus.RUNNING, TaskStatus.COMPLETED),
        agent_type="coder",
        source="github",
        assigned_agent="agent-7",
        session_id="s-9",
        conversation_id="c-3",
        created_after=EPOCH,
        created_before=EPOCH + timedelta(hours=6),
        text="billing",
    )
    assert [task.task_id for task in await backend.reads.find(query)] == [match.task_id]


async def test_text_search_treats_wildcards_literally(backend: Backend) -> None:
    await _add(
        backend,
        TaskFactory.build(task_id="pct", input_message="grow 100% faster"),
        TaskFactory.build(task_id="plain", input_message="grow 1000 faster"),
    )
    found = await backend.reads.find(TaskQuery(text="100%"))
    assert [task.task_id for task in found] == ["pct"]


async def test_list_items_carry_a_preview_not_the_whole_input(backend: Backend) -> None:
    await _add(backend, TaskFactory.build(input_message="x" * 5_000))
    (item,) = await backend.reads.find(TaskQuery())
    assert item.input_preview == "x" * 200


async def test_active_counts_and_agent_activity(backend: Backend) -> None:
    await _add(
        backend,
        TaskFactory.build(agent_type="coder", status=TaskStatus.QUEUED),
        TaskFactory.build(agent_type="coder", status=TaskStatus.RUNNING),
        TaskFactory.build(agent_type="coder", status=TaskStatus.RUNNING),
        TaskFactory.build(agent_type="planner", status=TaskStatus.WAITING_INPUT),
        TaskFactory.finished(agent_type="planner"),
    )
    counts = await backend.reads.active_counts()
    assert (counts.queued, counts.running, counts.waiting_input) == (1, 2, 1)
    agents = {agent.agent_type: agent for agent in await backend.reads.agent_activity()}
    assert sorted(agents) == ["coder", "planner"]
    assert (agents["coder"].queued, agents["coder"].running) == (1, 2)
    assert (agents["planner"].queued, agents["planner"].running) == (0, 0)
    assert agents["planner"].last_activity_at is not None


async def test_tasks_of_a_batch_are_read_added_and_replaced_together(backend: Backend) -> None:
    first, second = TaskFactory.build(), TaskFactory.build()
    async with backend.unit_of_work() as uow:
        await uow.tasks.add_many([first, second])
        await uow.commit()
    assert await backend.reads.get_many([first.task_id, "missing", second.task_id]) == {
        first.task_id: first,
        second.task_id: second,
    }
    async with backend.unit_of_work() as uow:
        found = await uow.tasks.get_many([first.task_id])
        moved = msgspec.structs.replace(
            found[first.task_id], status=TaskStatus.RUNNING, version=first.version + 1
        )
        await uow.tasks.replace_many([moved])
        with pytest.raises(Conflict):
            await uow.tasks.add_many([TaskFactory.build(), second])
    # The failed add rolled the unit back: the replace went with it.
    assert await backend.reads.get(first.task_id) == first
    async with backend.unit_of_work() as uow:
        await uow.tasks.replace_many([moved])
        await uow.commit()
    assert await backend.reads.get(first.task_id) == moved


async def test_tasks_of_a_batch_are_added_and_replaced_in_one_call(backend: Backend) -> None:
    breakdown = CostBreakdown(
        input=Decimal("0.000003"),
        output=Decimal("1.5"),
        reasoning=Decimal(0),
        cache_read=Decimal(0),
        cache_write_5m=Decimal(0),
        cache_write_1h=Decimal(0),
        pattern="m*",
        effective_from=EPOCH,
        tier_above_prompt_tokens=None,
    )
    stored = TaskFactory.build()
    await _add(backend, stored)
    # Text that a batch's encoding must carry exactly (quotes, escapes, control characters,
    # JSON-looking text, characters outside the BMP).
    tricky = 'ünïcode ✓ "quoted" \\ back\\slash\nline\ttab\x01 {"a": [1, null]} 😀'
    new = TaskFactory.build(input_message=tricky, session_id="s-1", output=tricky[::-1])
    moved = msgspec.structs.replace(
        TaskFactory.finished(
            task_id=stored.task_id,
            created_at=stored.created_at,
            cost_usd=breakdown.total,
            cost_source=CostSource.COMPUTED,
            cost_breakdown=breakdown,
            reported_cost_usd=Decimal("0.5"),
            reasoning_tokens=3,
        ),
        version=stored.version + 2,
    )
    async with backend.unit_of_work() as uow:
        assert await uow.tasks.get_many([stored.task_id]) == {stored.task_id: stored}
        await uow.tasks.save_many([new], [moved])
        await uow.commit()
    assert await backend.reads.get(new.task_id) == new
    assert await backend.reads.get(stored.task_id) == moved
    async with backend.unit_of_work() as uow:
        await uow.tasks.save_many([], [])
        await uow.tasks.save_many([TaskFactory.build()], [])
        await uow.tasks.save_many([], [msgspec.structs.replace(moved, version=moved.version + 1)])
        await uow.commit()


async def test_a_batch_that_adds_an_existing_task_conflicts_and_writes_nothing(
    backend: Backend,
) -> None:
    first, second = TaskFactory.build(), TaskFactory.build()
    await _add(backend, first, second)
    moved = msgspec.structs.replace(first, status=TaskStatus.RUNNING, version=first.version + 1)
    again = msgspec.structs.replace(second, agent_type="other")  # the id is taken
    fresh = TaskFactory.build()
    async with backend.unit_of_work() as uow:
        await uow.tasks.get_many([first.task_id])
        with pytest.raises(Conflict):
            await uow.tasks.save_many([fresh, again], [moved])
    assert await backend.reads.get_many([first.task_id, second.task_id, fresh.task_id]) == {
        first.task_id: first,
        second.task_id: second,
    }
