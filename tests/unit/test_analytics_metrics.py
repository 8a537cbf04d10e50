"""Metric definitions (SPEC §5) on figures computed by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from dashboard_api.domain.model import analytics as metric
from dashboard_api.domain.model.rollups import DURATION_BUCKETS, Figures, RollupQuery, RollupSource


def _durations(**counts: int) -> tuple[int, ...]:
    """Bucket counts by index name, e.g. b0=2 (≤1 s), b6=1 (30-60 s)."""
    values = [0] * DURATION_BUCKETS
    for name, count in counts.items():
        values[int(name[1:])] = count
    return tuple(values)


# Ten tasks: 6 completed, 2 failed, 1 cancelled, 1 running; 9 finished taking 1,000 s in all.
TEN = Figures(
    tasks=10,
    completed=6,
    failed=2,
    finished=9,
    cost_micros=12_345_678,
    input_tokens=7_000,
    output_tokens=3_000,
    duration_micros=1_000_000_000,
    durations=_durations(b0=2, b3=3, b6=3, b15=1),
)


def test_total_cost_is_exact_dollars() -> None:
    assert metric.total_cost(TEN) == Decimal("12.345678")


def test_success_rate_counts_every_task_finished_success_rate_only_decided_ones() -> None:
    assert metric.success_rate(TEN) == 0.6
    assert metric.finished_success_rate(TEN) == 0.75


def test_average_tokens_and_duration() -> None:
    assert metric.average_tokens(TEN) == 1_000.0
    assert metric.average_duration_seconds(TEN) == pytest.approx(1_000 / 9)


def test_cost_per_task_hour_and_tasks_per_day() -> None:
    assert metric.cost_per_task(TEN) == Decimal("1.234568")  # 1.2345678 rounded half-even
    assert metric.cost_per_hour(TEN, timedelta(hours=4)) == Decimal("3.086420")
    assert metric.tasks_per_day(TEN, timedelta(hours=12)) == 20.0


def test_metrics_of_nothing_are_null_not_zero() -> None:
    empty = Figures()
    assert metric.success_rate(empty) is None
    assert metric.finished_success_rate(empty) is None
    assert metric.average_tokens(empty) is None
    assert metric.average_duration_seconds(empty) is None
    assert metric.cost_per_task(empty) is None
    assert metric.duration_percentile(empty, 0.5) is None


def test_no_decided_task_gives_no_finished_success_rate() -> None:
    running = Figures(tasks=3)
    assert metric.success_rate(running) == 0.0
    assert metric.finished_success_rate(running) is None


def test_percentiles_report_the_upper_bound_of_the_bucket_holding_the_rank() -> None:
    # Sorted durations fall as: 2 in (0,1], 3 in (5,10], 3 in (30,60], 1 over 4 h.
    assert metric.duration_percentile(TEN, 0.20) == 1.0  # rank 2
    assert metric.duration_percentile(TEN, 0.50) == 10.0  # rank 5
    assert metric.duration_percentile(TEN, 0.80) == 60.0  # rank 8
    assert metric.duration_percentile(TEN, 0.99) == 14_400.0  # rank 9: open bucket, its floor


H = datetime(2026, 11, 20, 10, tzinfo=UTC)


def _plan(
    start: datetime | None, end: datetime | None, now: datetime | None = None
) -> list[tuple[str, object, object]]:
    return [
        (("-" if q.negate else "") + q.source.value, q.start, q.end)
        for q in metric.plan_reads(start, end, now=now)
    ]


def test_an_aligned_window_reads_day_rows_and_hour_rows_only() -> None:
    start, end = H + timedelta(hours=4), H.replace(hour=0) + timedelta(days=3, hours=5)
    assert _plan(start, end) == [
        ("hours", start, H.replace(hour=0) + timedelta(days=1)),
        ("hours", end.replace(hour=0), end),
        ("days", H.replace(hour=0) + timedelta(days=1), end.replace(hour=0)),
    ]


def test_a_partial_day_is_its_day_minus_the_fewer_hours_outside_the_window() -> None:
    midnight = H.replace(hour=0)
    start, end = H, midnight + timedelta(days=3, hours=15)  # 14 hours in, 15 in
    assert _plan(start, end) == [
        ("-hours", midnight, H),  # 10 hours before the window
        ("-hours", end, midnight + timedelta(days=4)),  # 9 hours after it
        ("days", midnight, midnight + timedelta(days=4)),
    ]
    # A window ending with the current hour: the rest of today is still to come.
    end = midnight + timedelta(days=3, hours=5)
    assert _plan(start + timedelta(hours=4), end, now=end - timedelta(minutes=30)) == [
        ("hours", H + timedelta(hours=4), midnight + timedelta(days=1)),
        ("-hours", end, midnight + timedelta(days=4)),
        ("days", midnight + timedelta(days=1), midnight + timedelta(days=4)),
    ]


def test_partial_edge_hours_are_read_from_the_tasks() -> None:
    start, end = H + timedelta(minutes=30), H + timedelta(hours=3, minutes=15)
    assert _plan(start, end) == [
        ("tasks", start, H + timedelta(hours=1)),
        ("tasks", H + timedelta(hours=3), end),
        ("hours", H + timedelta(hours=1), H + timedelta(hours=3)),
    ]


def test_a_window_inside_one_hour_is_all_tasks_and_all_time_is_all_days() -> None:
    start = H + timedelta(minutes=5)
    assert _plan(start, start + timedelta(minutes=50)) == [
        ("tasks", start, start + timedelta(minutes=50))
    ]
    assert _plan(None, None) == [("days", None, None)]
    assert metric.plan_reads(H, H) == []


def test_hourly_answers_skip_day_rows() -> None:
    reads = metric.plan_reads(H, H + timedelta(days=3), use_days=False)
    assert reads == [RollupQuery(source=RollupSource.HOURS, start=H, end=H + timedelta(days=3))]
