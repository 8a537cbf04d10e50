"""Applies Alembic migrations programmatically, so no alembic.ini has to sit in the cwd."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the schema at `database_url` up to `revision`. Blocks until done."""
    _outside_event_loop(command.upgrade, alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    _outside_event_loop(command.downgrade, alembic_config(database_url), revision)


def _outside_event_loop(action: Callable[[Config, str], None], config: Config, rev: str) -> None:
    # The migration environment runs its own event loop (asyncio.run), which cannot start
    # inside a running one: from async code, run it on a thread of its own and wait.
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        action(config, rev)
        return
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(action, config, rev).result()


def current(database_url: str) -> None:
    command.current(alembic_config(database_url), verbose=True)
