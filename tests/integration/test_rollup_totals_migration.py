"""Revision 0006 fills the read tables from the rollup rows a database already has."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert, select

from dashboard_api.adapters.sqlalchemy.engine import create_engine
from dashboard_api.adapters.sqlalchemy.migrate import upgrade
from dashboard_api.adapters.sqlalchemy.rollups.columns import FIGURE_COLUMNS
from dashboard_api.adapters.sqlalchemy.tables import rollup_totals_daily, rollups_daily

DAY = datetime(2026, 11, 20, tzinfo=UTC)


def _row(status: str, tasks: int, cost: int) -> dict[str, object]:
    figures = dict.fromkeys(FIGURE_COLUMNS, 0) | {"tasks": tasks, "cost_micros": cost}
    return {"day": DAY, "agent_type": "coder", "model": "m", "status": status, **figures}


async def _fill_then_read(url: str) -> list[tuple[object, ...]]:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                insert(rollups_daily), [_row("completed", 2, 30), _row("failed", 1, 5)]
            )
        await asyncio.to_thread(upgrade, url)
        async with engine.connect() as connection:
            table = rollup_totals_daily
            statement = select(
                table.c.agent_type, table.c.model, table.c.tasks, table.c.cost_micros
            )
            return [tuple(row) for row in (await connection.execute(statement)).all()]
    finally:
        await engine.dispose()


def test_upgrade_sums_existing_rows_over_statuses(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0005")
    assert asyncio.run(_fill_then_read(url)) == [("coder", "m", 3, 35)]
