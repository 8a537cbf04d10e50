"""Block numbering: a range is exactly the disjoint union of its blocks, each hour in one block
per level."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from dashboard_api.adapters.sqlalchemy.rollups.blocks import (
    DAY_BLOCKS_END,
    blocks_of_hour,
    day_blocks,
    hour_blocks,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _hours_of(number: int) -> range:
    """The hours (since 1970) a block number covers."""
    kind, level, index = number % 32 >= 16, number % 16, number // 32
    if kind:  # hours
        return range(index << level, (index + 1) << level)
    return range((index << level) * 24, ((index + 1) << level) * 24)


def _covered(numbers: list[int]) -> list[int]:
    hours = [hour for number in numbers for hour in _hours_of(number)]
    assert len(hours) == len(set(hours))  # disjoint
    return sorted(hours)


def test_day_and_hour_ranges_are_exactly_their_blocks() -> None:
    rng = random.Random(15)
    base = datetime(2026, 1, 1, tzinfo=UTC)
    for _ in range(300):
        start = base + timedelta(days=rng.randrange(-800, 800))
        end = start + timedelta(days=rng.randrange(0, 400))
        first = (start - EPOCH) // timedelta(hours=1)
        blocks = day_blocks(start, end)
        assert _covered(blocks) == list(range(first, first + (end - start) // timedelta(hours=1)))
        assert len(blocks) <= 2 * 16
        hour_start = start + timedelta(hours=rng.randrange(0, 24))
        hour_end = hour_start + timedelta(hours=rng.randrange(0, 30))
        first = (hour_start - EPOCH) // timedelta(hours=1)
        span = (hour_end - hour_start) // timedelta(hours=1)
        assert _covered(hour_blocks(hour_start, hour_end)) == list(range(first, first + span))


def test_unbounded_day_ranges_stop_where_the_blocks_do() -> None:
    end = datetime(2026, 12, 1, tzinfo=UTC)
    days = (end - EPOCH) // timedelta(days=1)
    assert _covered(day_blocks(datetime.min.replace(tzinfo=UTC), end)) == list(range(days * 24))
    top = day_blocks(end, datetime.max.replace(tzinfo=UTC))
    assert _covered(top)[-1] == (DAY_BLOCKS_END - EPOCH) // timedelta(hours=1) - 1


def test_an_hour_lies_in_the_blocks_that_cover_it() -> None:
    hour = datetime(2026, 10, 31, 23, tzinfo=UTC)
    index = (hour - EPOCH) // timedelta(hours=1)
    numbers = blocks_of_hour(hour)
    assert len(numbers) == 5 + 16
    assert all(index in _hours_of(number) for number in numbers)
    assert day_blocks(datetime(2026, 10, 31, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC)) == [
        number for number in numbers if number % 32 == 0
    ]
