"""Revision 0012 fills the block rows from the hourly read rows a database already has."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select

from dashboard_api.adapters.sqlalchemy.engine import create_engine
from dashboard_api.adapters.sqlalchemy.migrate import upgrade
from dashboard_api.adapters.sqlalchemy.rollups.blocks import blocks_of_hour
from dashboard_api.adapters.sqlalchemy.rollups.columns import FIGURE_COLUMNS
from dashboard_api.adapters.sqlalchemy.tables import rollup_totals_blocks, rollup_totals_hourly

HOUR = datetime(2026, 10, 31, 22, tzinfo=UTC)  # the next row is in another day and month


def _row(hour: datetime, tasks: int, cost: int) -> dict[str, object]:
    figures = dict.fromkeys(FIGURE_COLUMNS, 0) | {"tasks": tasks, "cost_micros": cost}
    return {"hour": hour, "agent_type": "coder", "model": "m", **figures}


async def _fill_then_read(url: str) -> dict[int, tuple[int, int]]:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                insert(rollup_totals_hourly),
                [_row(HOUR, 2, 30), _row(HOUR + timedelta(hours=3), 1, 5)],
            )
        await asyncio.to_thread(upgrade, url)
        async with engine.connect() as connection:
            table = rollup_totals_blocks
            statement = select(table.c.block, table.c.tasks, table.c.cost_micros)
            return {row[0]: (row[1], row[2]) for row in (await connection.execute(statement))}
    finally:
        await engine.dispose()


def test_upgrade_adds_every_hour_row_to_each_block_holding_it(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0011")
    blocks = asyncio.run(_fill_then_read(url))
    first, second = blocks_of_hour(HOUR), blocks_of_hour(HOUR + timedelta(hours=3))
    expected: dict[int, tuple[int, int]] = {}
    for numbers, (tasks, cost) in ((first, (2, 30)), (second, (1, 5))):
        for number in numbers:
            old = expected.get(number, (0, 0))
            expected[number] = (old[0] + tasks, old[1] + cost)
    assert blocks == expected
    assert len(first) == len(second) == 21
    assert len(set(first) & set(second)) < 21  # the shared blocks hold both
    assert expected[min(set(first) & set(second), key=lambda n: n % 32)] == (3, 35)
