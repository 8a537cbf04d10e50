"""What the CLI does to a database: migrations and the analytics rebuild, on the adapters the
settings name."""

from __future__ import annotations

import asyncio

from dashboard_api.settings import Settings


def migrate(settings: Settings, command: str = "upgrade", revision: str = "head") -> None:
    """`upgrade` or `downgrade` to `revision`, or print the `current` one."""
    from dashboard_api.adapters.sqlalchemy import migrate as alembic

    if command == "upgrade":
        alembic.upgrade(settings.database_url, revision)
    elif command == "downgrade":
        alembic.downgrade(settings.database_url, revision)
    else:
        alembic.current(settings.database_url)


def rebuild_analytics(settings: Settings) -> int:
    """Recompute every rollup row from the tasks; returns how many tasks were counted."""
    from dashboard_api.adapters.sqlalchemy.engine import create_engine
    from dashboard_api.adapters.sqlalchemy.rollups.store import SqlRollupStore

    async def rebuild() -> int:
        engine = create_engine(settings.database_url, null_pool=True)
        try:
            return await SqlRollupStore(engine).rebuild()
        finally:
            await engine.dispose()

    return asyncio.run(rebuild())
