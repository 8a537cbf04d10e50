"""Aligned blocks of days and hours: coarser rollup rows for reads not grouped by time.

A block is 2^k consecutive days (k = 0..DAY_LEVELS-1) or hours (k = 0..HOUR_LEVELS-1) aligned
on a multiple of its length, counted from 1970-01-01 UTC; its number in `rollup_totals_blocks`
is `(index >> k) * 32 + k` for days and `... + 16 + k` for hours. Any range of whole days (or
hours) is the disjoint union of at most two blocks per level (plus whole top-level blocks), so
a 30-day read sums ~4 block rows per agent type and model instead of 30 day rows. Every hour
row lies in exactly one block per level: the compactor and the rebuild add each figure to all
of them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

DAY_LEVELS = 16  # blocks of 1 .. 32,768 days
HOUR_LEVELS = 5  # blocks of 1 .. 16 hours: the partial days at a window's edges
# Day blocks cover [1970-01-01, 1970-01-01 + 2^16 days) (until 2149); a read of days outside
# it reads the day rows there instead (normally none).
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DAY_BLOCKS_END = _EPOCH + timedelta(days=1 << DAY_LEVELS)
DAY_BLOCKS_START = _EPOCH
_DAY = timedelta(days=1)
_HOUR = timedelta(hours=1)


def _day_index(moment: datetime) -> int:
    return (moment - _EPOCH) // _DAY


def _hour_index(moment: datetime) -> int:
    return (moment - _EPOCH) // _HOUR


def blocks_of_hour(hour: datetime) -> list[int]:
    """The numbers of every block holding this hour: one per level, hours then days."""
    hours, days = _hour_index(hour), _hour_index(hour) // 24
    numbers = [(hours >> k) * 32 + 16 + k for k in range(HOUR_LEVELS)]
    if 0 <= days < 1 << DAY_LEVELS:
        numbers.extend((days >> k) * 32 + k for k in range(DAY_LEVELS))
    return numbers


def _cover(start: int, end: int, levels: int, kind: int) -> list[int]:
    numbers = []
    while start < end:
        k = 0
        while k + 1 < levels and start % (2 << k) == 0 and start + (2 << k) <= end:
            k += 1
        numbers.append((start >> k) * 32 + kind + k)
        start += 1 << k
    return numbers


def day_blocks(start: datetime, end: datetime) -> list[int]:
    """The blocks whose union is exactly the days of [start, end) within the covered days
    (day-aligned bounds)."""
    first = max(_day_index(max(start, DAY_BLOCKS_START)), 0)
    last = min(_day_index(min(end, DAY_BLOCKS_END)), 1 << DAY_LEVELS)
    return _cover(first, last, DAY_LEVELS, 0)


def hour_blocks(start: datetime, end: datetime) -> list[int]:
    """The blocks whose union is exactly the hours of [start, end) (hour-aligned bounds)."""
    return _cover(_hour_index(start), _hour_index(end), HOUR_LEVELS, 16)
