"""The RollupStore contract, identical on memory, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Hashable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from dashboard_api.domain.model.rollups import (
    DayRange,
    Figures,
    FigureSet,
    RollupChange,
    RollupKey,
    RollupQuery,
    RollupSource,
    RollupState,
    Watermark,
    task_figures,
    total,
)
from dashboard_api.domain.model.tasks import NewTask, TaskPatch, TaskStatus
from dashboard_api.domain.services.tasks import TaskService
from tests.contract.conftest import Backend
from tests.unit.fakes import RecordingBus

DAY = datetime(2026, 11, 20, tzinfo=UTC)
NOW = DAY + timedelta(days=2)


def _key(
    hours: int, agent: str = "coder", model: str = "m", status: str = "completed"
) -> RollupKey:
    return RollupKey(DAY + timedelta(hours=hours), agent, model, status)


def _figures(tasks: int, cost_micros: int) -> Figures:
    return Figures(tasks=tasks, completed=tasks, cost_micros=cost_micros)


async def _record(backend: Backend, *changes: RollupChange) -> None:
    async with backend.unit_of_work() as uow:
        await uow.rollups.record(changes)
        await uow.commit()


def _service(backend: Backend) -> TaskService:
    return TaskService(
        unit_of_work=backend.unit_of_work,
        reads=backend.reads,
        bus=RecordingBus(),
        clock=lambda: NOW,
    )


async def _whole(backend: Backend, source: RollupSource, **bounds: datetime) -> Figures:
    (totals,) = await backend.rollups.read(RollupQuery(source=source, **bounds))
    return total(item.figures for item in totals)


async def test_changes_count_only_once_committed(backend: Backend) -> None:
    async with backend.unit_of_work() as uow:
        await uow.rollups.record([RollupChange(_key(1), _figures(1, 10))])
    assert (await _whole(backend, RollupSource.DAYS)).tasks == 0
    await _record(backend, RollupChange(_key(1), _figures(1, 10)))
    assert (await _whole(backend, RollupSource.DAYS)).cost_micros == 10


async def test_a_day_range_version_moves_with_every_committed_change_in_it(
    backend: Backend,
) -> None:
    first, second = DayRange(DAY, DAY + timedelta(days=1)), DayRange(DAY + timedelta(days=1), None)
    everything = DayRange(None, None)

    async def versions() -> list[Hashable]:
        return await _changes(backend, first, second, everything)

    seen = [await versions()]
    assert await versions() == seen[0]  # nothing changed
    async with backend.unit_of_work() as uow:  # never committed
        await uow.rollups.record([RollupChange(_key(1), _figures(1, 10))])
    assert await versions() == seen[0]
    for change in (_figures(1, 10), _figures(2, 5), _figures(-1, -10)):
        await _record(backend, RollupChange(_key(2), change))  # day one only
        seen.append(await versions())
        assert seen[-1][0] != seen[-2][0]
        assert seen[-1][1] == seen[-2][1]
        assert seen[-1][2] != seen[-2][2]
    await backend.compact()  # moves no figure: no version moves
    assert await versions() == seen[-1]
    await _record(backend, RollupChange(_key(30), _figures(1, 1)))  # day two only
    seen.append(await versions())
    assert seen[-1][0] == seen[-2][0]
    assert seen[-1][1] != seen[-2][1]
    await backend.compact()
    assert await versions() == seen[-1]
    await backend.rollups.rebuild()  # recounted from the tasks: every version moves
    seen.append(await versions())
    assert all(now != before for now, before in zip(seen[-1], seen[-2], strict=True))
    assert [len(set(column)) for column in zip(*seen, strict=True)] == [5, 3, 6]
    assert (await backend.rollups.state()).folded == []


async def test_the_watermark_says_whether_anything_changed_since_a_state(
    backend: Backend,
) -> None:
    """A hit of the answer cache reads the watermark alone: it must move with every committed
    change, compaction and rebuild, and never come back to a value it had."""
    days = (DayRange(DAY, DAY + timedelta(days=1)), DayRange(None, None))

    async def state(since: Watermark | None = None) -> RollupState | None:
        return await backend.rollups.state(*days, unchanged_since=since)

    first = await state()
    assert first is not None
    assert await state(first.watermark) is None  # nothing changed
    async with backend.unit_of_work() as uow:  # never committed
        await uow.rollups.record([RollupChange(_key(1), _figures(1, 10))])
    assert await state(first.watermark) is None
    seen = [first.watermark]
    steps = (
        lambda: _record(backend, RollupChange(_key(2), _figures(1, 10))),
        lambda: _record(backend, RollupChange(_key(30), _figures(1, 5))),  # another day
        backend.compact,  # moves no figure, but the pending changes become folded ones
        lambda: _record(backend, RollupChange(_key(2), _figures(-1, -10))),  # back to a sum
        backend.rollups.rebuild,
        lambda: _record(backend, RollupChange(_key(2), _figures(1, 10))),
        backend.compact,
    )
    for step in steps:
        await step()
        moved = await state(seen[-1])
        if step is backend.compact and backend.name == "memory":
            assert moved is None  # nothing is ever pending there: compaction moves nothing
            continue
        assert moved is not None
        assert moved.watermark not in seen
        assert moved == await state()  # a state whatever the watermark it was asked against
        assert await state(moved.watermark) is None
        seen.append(moved.watermark)
    assert [await state(old) is None for old in seen] == [False] * (len(seen) - 1) + [True]


async def test_compacted_rows_and_pending_changes_add_up_to_the_figures(
    backend: Backend,
) -> None:
    query = RollupQuery(source=RollupSource.HOURS, start=DAY, end=DAY + timedelta(days=1))
    await _record(backend, RollupChange(_key(1), _figures(2, 100)))
    await backend.compact()
    await _record(backend, RollupChange(_key(2), _figures(1, 5)))
    await _record(backend, RollupChange(_key(30), _figures(1, 7)))  # another day
    state = await backend.rollups.state(query.days)
    (compacted,) = await backend.rollups.read_compacted(query)
    assert compacted.compacted == (state.rebuilds, state.folded[0])
    pending = [change for change in state.pending if change.hour < DAY + timedelta(days=1)]
    both = total([*(t.figures for t in compacted.totals), *(p.figures for p in pending)])
    assert both == await _whole(backend, RollupSource.HOURS, start=DAY, end=DAY + timedelta(days=1))
    assert both.cost_micros == 105
    # SQL compacts in the background, memory applies as it commits: either way, what is
    # pending is exactly what the compacted rows lack.
    if backend.name == "memory":
        assert state.pending == []
    else:
        assert [(p.hour, p.changes, p.figures.cost_micros) for p in pending] == [
            (_key(2).hour, 1, 5)
        ]
        assert total(t.figures for t in compacted.totals).cost_micros == 100
    await backend.compact()
    after = await backend.rollups.state(query.days)
    assert await _changes(backend, query.days) == await _changes(backend, query.days)
    assert after.pending == []
    assert (after.folded == state.folded) == (backend.name == "memory")
    (compacted,) = await backend.rollups.read_compacted(query)
    assert compacted.compacted == (after.rebuilds, after.folded[0])
    assert total(t.figures for t in compacted.totals) == both


async def _changes(backend: Backend, *ranges: DayRange) -> list[Hashable]:
    """Per range, a value that moves with every committed change in it (folded + pending)."""
    state = await backend.rollups.state(*ranges)
    return [
        (
            state.rebuilds,
            folded
            + sum(
                change.changes
                for change in state.pending
                if (days.start is None or change.hour >= days.start)
                and (days.end is None or change.hour < days.end)
            ),
        )
        for days, folded in zip(ranges, state.folded, strict=True)
    ]


async def test_reads_sum_hours_and_days_grouped_as_asked(backend: Backend) -> None:
    await _record(
        backend,
        RollupChange(_key(1), _figures(2, 100)),
        RollupChange(_key(1, agent="planner", model=""), _figures(1, 7)),
        RollupChange(_key(26), _figures(4, 1_000)),
        RollupChange(_key(1), _figures(-1, -40)),  # a task moved away again
    )
    await backend.compact()
    await _record(backend, RollupChange(_key(2), _figures(1, 5)))  # still a pending delta
    (by_day,) = await backend.rollups.read(
        RollupQuery(source=RollupSource.DAYS, by_time=True, by_agent_type=True, by_model=True)
    )
    assert sorted(
        (t.start, t.agent_type, t.model, t.figures.tasks, t.figures.cost_micros) for t in by_day
    ) == [
        (DAY, "coder", "m", 2, 65),
        (DAY, "planner", "", 1, 7),
        (DAY + timedelta(days=1), "coder", "m", 4, 1_000),
    ]
    (hours,) = await backend.rollups.read(
        RollupQuery(
            source=RollupSource.HOURS,
            start=DAY + timedelta(hours=1),
            end=DAY + timedelta(hours=26),
            agent_type="coder",
            by_time=True,
        )
    )
    assert sorted((t.start, t.figures.tasks) for t in hours) == [
        (DAY + timedelta(hours=1), 1),
        (DAY + timedelta(hours=2), 1),
    ]


async def test_compaction_never_changes_an_answer(backend: Backend) -> None:
    service = _service(backend)
    for minute in range(6):
        task = await service.register(
            NewTask(agent_type="coder", model="m", created_at=DAY + timedelta(minutes=minute * 25))
        )
        if minute % 2:
            await service.update(task.task_id, TaskPatch(status=TaskStatus.FAILED))
    before = await _whole(backend, RollupSource.HOURS)
    assert await backend.compact() >= 0
    assert await _whole(backend, RollupSource.HOURS) == before
    assert await _whole(backend, RollupSource.DAYS) == before
    assert (before.tasks, before.failed, before.finished) == (6, 3, 3)


async def test_edge_hours_are_read_exactly_from_the_tasks(backend: Backend) -> None:
    service = _service(backend)
    inside = await service.register(
        NewTask(agent_type="coder", created_at=DAY + timedelta(minutes=40))
    )
    await service.register(NewTask(agent_type="coder", created_at=DAY + timedelta(minutes=20)))
    await service.update(
        inside.task_id, TaskPatch(status=TaskStatus.COMPLETED, cost_usd=Decimal("1.5"))
    )
    whole = await _whole(
        backend,
        RollupSource.TASKS,
        start=DAY + timedelta(minutes=30),
        end=DAY + timedelta(minutes=50),
    )
    stored = await backend.reads.get(inside.task_id)
    assert stored is not None
    assert whole == task_figures(stored)


async def test_a_rebuild_recomputes_what_the_changes_maintained(backend: Backend) -> None:
    service = _service(backend)
    for hour in range(0, 40, 3):
        task = await service.register(
            NewTask(
                agent_type="coder", model="m", created_at=DAY + timedelta(hours=hour, minutes=7)
            )
        )
        await service.update(
            task.task_id,
            TaskPatch(status=TaskStatus.COMPLETED, cost_usd=Decimal(hour) / 7, input_tokens=hour),
        )
    (maintained,) = await backend.rollups.read(
        RollupQuery(source=RollupSource.HOURS, by_time=True, by_model=True)
    )
    assert await backend.rollups.rebuild() == 14
    (rebuilt,) = await backend.rollups.read(
        RollupQuery(source=RollupSource.HOURS, by_time=True, by_model=True)
    )
    assert sorted(rebuilt) == sorted(maintained)
    assert await _whole(backend, RollupSource.DAYS) == total(t.figures for t in maintained)


async def _grouped(
    backend: Backend, query: RollupQuery
) -> dict[tuple[str | None, str | None], Figures]:
    (totals,) = await backend.rollups.read(query)
    groups: dict[tuple[str | None, str | None], Figures] = {}
    for item in totals:
        key = (item.agent_type, item.model)
        groups[key] = groups[key] + item.figures if key in groups else item.figures
    return {key: figures for key, figures in groups.items() if not figures.is_empty}


def _only(figures: Figures, asked: FigureSet) -> Figures:
    return Figures(**{name: getattr(figures, name) for name in asked.names})


async def test_reads_not_grouped_by_time_equal_the_tasks_they_cover(backend: Backend) -> None:
    """Ranges read whole (block rows on PostgreSQL) against the tasks themselves: across a
    month boundary, unbounded, single days and partial days, after a compaction, with a late
    change to a closed day pending and compacted, and after a rebuild."""
    service = _service(backend)
    month_end = datetime(2026, 10, 31, tzinfo=UTC)
    created = []
    for step in range(40):  # every 5 hours from Oct 28 to Nov 5
        task = await service.register(
            NewTask(
                agent_type=("coder", "planner")[step % 2],
                model=("m", "n", None)[step % 3],
                created_at=month_end - timedelta(days=3) + timedelta(hours=5 * step, minutes=11),
            )
        )
        created.append(task)
        status = (TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.RUNNING)[step % 3]
        await service.update(
            task.task_id,
            TaskPatch(status=status, cost_usd=Decimal(step) / 3, output_tokens=step * 10),
        )
    await backend.compact()
    day = timedelta(days=1)
    ranges = [
        (RollupSource.DAYS, None, None),
        (RollupSource.DAYS, None, month_end + day),
        (RollupSource.DAYS, month_end - day, None),
        (RollupSource.DAYS, month_end - 2 * day, month_end + 3 * day),  # across the month
        (RollupSource.DAYS, month_end, month_end + day),
        (RollupSource.DAYS, month_end + day, month_end + 2 * day),
        (RollupSource.HOURS, month_end + timedelta(hours=3), month_end + timedelta(hours=21)),
        (RollupSource.HOURS, month_end - timedelta(hours=5), month_end + timedelta(hours=30)),
    ]

    async def check() -> None:
        for source, start, end in ranges:
            for agent_type in (None, "coder"):
                for by_agent_type, by_model in ((False, False), (True, False), (True, True)):
                    shape = {
                        "start": start,
                        "end": end,
                        "agent_type": agent_type,
                        "by_agent_type": by_agent_type,
                        "by_model": by_model,
                    }
                    read = await _grouped(backend, RollupQuery(source=source, **shape))
                    tasks = await _grouped(backend, RollupQuery(source=RollupSource.TASKS, **shape))
                    assert read == tasks, (source, shape)
                    for figures in (FigureSet.COSTS, FigureSet.TOTALS):
                        part = await _grouped(
                            backend, RollupQuery(source=source, figures=figures, **shape)
                        )
                        assert {k: _only(f, figures) for k, f in part.items()} == {
                            k: _only(f, figures) for k, f in tasks.items()
                        }

    await check()
    # A late change to a closed day (Oct 29), pending, then compacted.
    await service.update(
        created[3].task_id, TaskPatch(status=TaskStatus.COMPLETED, cost_usd=Decimal("12.34"))
    )
    await check()
    await backend.compact()
    await check()
    assert await backend.rollups.rebuild() == 40
    await check()


async def test_rows_that_fall_to_nothing_are_dropped(backend: Backend) -> None:
    await _record(backend, RollupChange(_key(1), _figures(1, 10)))
    await backend.compact()
    await _record(backend, RollupChange(_key(1), _figures(-1, -10)))  # the task moved away
    await backend.compact()
    for source in (RollupSource.HOURS, RollupSource.DAYS):
        (rows,) = await backend.rollups.read(RollupQuery(source=source, by_time=True))
        assert rows == []
        (whole,) = await backend.rollups.read(RollupQuery(source=source, by_model=True))
        assert [t for t in whole if not t.figures.is_empty] == []
