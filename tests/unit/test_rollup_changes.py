"""How a task's contribution to the rollups is computed and moved by a change."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import msgspec

from dashboard_api.domain.model.rollups import (
    DURATION_BOUNDS_SECONDS,
    NO_MODEL,
    RollupKey,
    duration_bucket,
    merged_changes,
    moved_changes,
    rollup_changes,
    task_figures,
)
from dashboard_api.domain.model.tasks import Task, TaskStatus

CREATED = datetime(2026, 11, 20, 10, 42, 7, 123456, tzinfo=UTC)
QUEUED = Task(
    task_id="t",
    status=TaskStatus.QUEUED,
    agent_type="coder",
    source="api",
    created_at=CREATED,
    model="m",
)
DONE = msgspec.structs.replace(
    QUEUED,
    status=TaskStatus.COMPLETED,
    cost_usd=Decimal("0.123456"),
    input_tokens=100,
    output_tokens=50,
    cache_read_tokens=7,
    cache_write_tokens=3,
    completed_at=CREATED + timedelta(seconds=90, microseconds=5),
)


def test_a_finished_task_contributes_its_exact_figures_and_one_duration() -> None:
    figures = task_figures(DONE)
    assert (figures.tasks, figures.completed, figures.failed, figures.finished) == (1, 1, 0, 1)
    assert figures.cost_micros == 123_456
    assert (figures.input_tokens, figures.output_tokens) == (100, 50)
    assert (figures.cache_read_tokens, figures.cache_write_tokens) == (7, 3)
    assert figures.duration_micros == 90_000_005
    assert figures.durations[DURATION_BOUNDS_SECONDS.index(120)] == 1  # 90 s is in (60, 120]
    assert sum(figures.durations) == 1


def test_an_unfinished_task_has_no_duration() -> None:
    figures = task_figures(QUEUED)
    assert figures.finished == 0
    assert figures.duration_micros == 0
    assert sum(figures.durations) == 0


def test_a_new_task_adds_one_to_the_row_of_its_hour_agent_model_and_status() -> None:
    [change] = rollup_changes(None, QUEUED)
    assert change.key == RollupKey(
        CREATED.replace(minute=0, second=0, microsecond=0), "coder", "m", "queued"
    )
    assert change.figures == task_figures(QUEUED)


def test_a_status_change_moves_the_contribution_between_rows() -> None:
    leave, join = rollup_changes(QUEUED, DONE)
    assert leave.key.status == "queued"
    assert leave.figures.tasks == -1
    assert join.key.status == "completed"
    assert join.figures == task_figures(DONE)


def test_a_correction_within_one_row_records_only_the_difference() -> None:
    corrected = msgspec.structs.replace(DONE, input_tokens=130, cost_usd=Decimal("0.2"))
    [change] = rollup_changes(DONE, corrected)
    assert change.figures.tasks == 0
    assert change.figures.input_tokens == 30
    assert change.figures.cost_micros == 200_000 - 123_456


def test_a_change_that_moves_no_figure_records_nothing() -> None:
    renamed = msgspec.structs.replace(QUEUED, assigned_agent="coder-2", version=2)
    assert rollup_changes(QUEUED, renamed) == []


def test_a_task_without_model_is_keyed_under_no_model() -> None:
    [change] = rollup_changes(None, msgspec.structs.replace(QUEUED, model=None))
    assert change.key.model == NO_MODEL


def test_bucket_bounds_are_inclusive_above() -> None:
    assert duration_bucket(0) == 0
    assert duration_bucket(1_000_000) == 0
    assert duration_bucket(1_000_001) == 1
    assert duration_bucket(14_400_000_000) == len(DURATION_BOUNDS_SECONDS) - 1
    assert duration_bucket(14_400_000_001) == len(DURATION_BOUNDS_SECONDS)


def test_a_batch_of_moves_records_what_each_change_would_merged_per_row() -> None:
    running = msgspec.structs.replace(QUEUED, status=TaskStatus.RUNNING)
    failed = msgspec.structs.replace(
        running, status=TaskStatus.FAILED, completed_at=CREATED + timedelta(hours=3)
    )
    other = msgspec.structs.replace(QUEUED, task_id="u", agent_type="writer", model=None)
    later = msgspec.structs.replace(DONE, task_id="v", created_at=CREATED + timedelta(hours=1))
    corrected = msgspec.structs.replace(DONE, cost_usd=Decimal("0.2"))
    moves: list[tuple[Task | None, Task]] = [
        (None, QUEUED),  # two tasks into the queued row, one of them out again: nets to one
        (QUEUED, running),
        (None, other),
        (running, failed),
        (None, later),
        (DONE, corrected),  # a correction inside one row
        (DONE, DONE),  # moves nothing
        (None, QUEUED),
    ]
    expected = merged_changes(
        change for before, after in moves for change in rollup_changes(before, after)
    )
    assert sorted(moved_changes(moves)) == sorted(expected)
    assert moved_changes([(QUEUED, running), (running, QUEUED)]) == []


def test_moved_changes_equal_the_merged_changes_of_random_batches() -> None:
    rng = random.Random(5)
    statuses = list(TaskStatus)
    for _ in range(300):
        moves: list[tuple[Task | None, Task]] = []
        for _ in range(rng.randrange(0, 20)):
            before = msgspec.structs.replace(
                QUEUED,
                task_id=rng.choice("abc"),
                agent_type=rng.choice(["coder", "writer"]),
                model=rng.choice([None, "m1"]),
                created_at=CREATED + timedelta(hours=rng.randrange(3)),
            )
            finished = rng.random() < 0.5
            seconds = rng.choice([0, 1, 2, 14_400, 14_401, rng.randrange(100_000)])
            after = msgspec.structs.replace(
                before,
                status=rng.choice(statuses),
                cost_usd=Decimal(rng.randrange(10**7)).scaleb(-7),
                input_tokens=rng.randrange(50),
                output_tokens=rng.randrange(50),
                cache_read_tokens=rng.randrange(5),
                cache_write_tokens=rng.randrange(5),
                completed_at=(
                    before.created_at + timedelta(seconds=seconds, microseconds=rng.randrange(2))
                    if finished
                    else None
                ),
            )
            moves.append((rng.choice([None, before]), after))
        expected = merged_changes(
            change for before, after in moves for change in rollup_changes(before, after)
        )
        assert sorted(moved_changes(moves)) == sorted(expected)
