"""The short paths of the task reads on PostgreSQL, where the store reads natively on asyncpg
(adapters/sqlalchemy/task_sql.py): the same answers as the router and the handlers give."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.http.test_fast_reads import TOKENS, compare_paths

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(("tokens", "limited"), [("", True), (TOKENS, True), ("", False)])
def test_task_reads_answer_as_the_router_and_handlers_do_on_postgres(
    monkeypatch: pytest.MonkeyPatch,
    postgres_url: str,
    clean_postgres: AsyncEngine,
    tokens: str,
    limited: bool,
) -> None:
    compare_paths(
        monkeypatch, tokens, cors=bool(tokens), database_url=postgres_url, limited=limited
    )
