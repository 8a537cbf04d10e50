"""Fill a fresh PostgreSQL database with realistic tasks for the benchmark.

    .venv/bin/python -m bench.generate [--rows 1000000] [--database-url URL]

The database is dropped and recreated, the schema comes from the project's migrations, the
indexes are dropped while COPY loads the rows (in creation order, like a live table) and rebuilt
afterwards, then the table is vacuumed and analyzed. The random seed is fixed.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import time
from datetime import UTC, datetime

import asyncpg

from dashboard_api.adapters.sqlalchemy.migrate import upgrade

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/dashboard_bench"
SEED = 20261124
DAYS = 30
BATCH = 50_000

AGENTS = ("code-review", "bug-fix", "triage", "docs-writer", "test-writer", "research")
AGENT_WEIGHTS = (25, 20, 20, 10, 15, 10)
# model: (USD per million input tokens, per million output tokens)
MODELS = {
    "claude-sonnet-4": (3.0, 15.0),
    "claude-opus-4": (15.0, 75.0),
    "claude-haiku-3.5": (0.8, 4.0),
    "gpt-4o": (2.5, 10.0),
    "gpt-4o-mini": (0.15, 0.6),
}
MODEL_WEIGHTS = (45, 8, 25, 15, 7)
SOURCES = ("api", "dashboard", "github", "jira", "slack", "sentry")
SOURCE_WEIGHTS = (35, 20, 20, 10, 10, 5)
TERMINAL = ("completed", "failed", "cancelled")
TERMINAL_WEIGHTS = (88, 8, 4)
ACTIVE = ("queued", "running", "waiting_input")
ACTIVE_WEIGHTS = (30, 60, 10)
# Relative load per UTC hour: a working day with a quiet night.
HOUR_WEIGHTS = (2, 1, 1, 1, 1, 2, 4, 7, 10, 12, 12, 11, 9, 11, 12, 12, 11, 9, 7, 5, 4, 3, 3, 2)
ERRORS = (
    "Rate limited by the model provider (429); retries exhausted",
    "Tool call failed: git push rejected (non-fast-forward)",
    "Context window exceeded: 212,344 tokens requested, 200,000 allowed",
    "Timed out after 1800 s waiting for the sandbox",
    "Upstream returned 503 Service Unavailable",
    "Repository not found or access denied",
)
_PROMPTS = (
    "fix the failing test in the payment service and explain the root cause please review "
    "this pull request for security issues summarize the incident from sentry refactor the "
    "handler to use async io add type hints and docstrings the build is red since yesterday "
    "investigate why the deploy pipeline is slow write unit tests for the parser update the "
    "changelog and bump the version triage new jira tickets label them by component and "
    "priority the customer reports a timeout when exporting large csv files migrate the "
    "settings module to pydantic check the flaky integration test on postgres"
)
WORDS = _PROMPTS.split()

COLUMNS = (
    "task_id", "status", "agent_type", "source", "assigned_agent", "session_id",
    "conversation_id", "input_message", "output", "error", "model", "cost_micros",
    "price_version", "input_tokens", "output_tokens", "cache_read_tokens",
    "cache_write_tokens", "created_at", "started_at", "completed_at", "version",
)  # fmt: skip


def corpus(rng: random.Random, size: int = 400_000) -> str:
    words: list[str] = []
    length = 0
    while length < size:
        word = rng.choice(WORDS)
        words.append(word)
        length += len(word) + 1
    return " ".join(words)


def task_id(rng: random.Random, moment: float) -> str:
    """UUIDv7 text: the creation millisecond first, so ids sort like created_at."""
    value = (int(moment * 1000) & 0xFFFF_FFFF_FFFF) << 80 | 0x7 << 76
    value |= rng.getrandbits(12) << 64 | 0b10 << 62 | rng.getrandbits(62)
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def timestamps(rng: random.Random, rows: int, end: float) -> list[float]:
    """Creation times over the last DAYS days, following HOUR_WEIGHTS, oldest first."""
    start = end - DAYS * 86_400
    hours = [h % 24 for h in range(DAYS * 24)]
    weights = [HOUR_WEIGHTS[(int(start // 3600) + h) % 24] for h in range(len(hours))]
    picked = rng.choices(range(len(hours)), weights=weights, k=rows)
    return sorted(start + hour * 3600 + rng.random() * 3600 for hour in picked)


def rows(rng: random.Random, moments: list[float], end: float, text: str) -> list[tuple]:
    out = []
    lognorm, rand, choice = rng.lognormvariate, rng.random, rng.choice
    agents = rng.choices(AGENTS, AGENT_WEIGHTS, k=len(moments))
    models = rng.choices(tuple(MODELS), MODEL_WEIGHTS, k=len(moments))
    sources = rng.choices(SOURCES, SOURCE_WEIGHTS, k=len(moments))
    finished = rng.choices(TERMINAL, TERMINAL_WEIGHTS, k=len(moments))
    tz = UTC
    for created, agent, model, source, status in zip(
        moments, agents, models, sources, finished, strict=True
    ):
        age = end - created
        if age < 3600 and rand() < 0.6 * (1 - age / 3600):
            status = rng.choices(ACTIVE, ACTIVE_WEIGHTS)[0]
        started = None if status == "queued" else created + lognorm(2.0, 1.0)
        if status == "cancelled" and rand() < 0.4:
            started = None
        completed = None
        if status in TERMINAL:
            completed = (started or created) + lognorm(4.5, 1.0)
            if completed > end:
                status, completed = "running", None
        if started is not None and started > end:
            status, started = "queued", None
        length = min(2000, max(50, int(lognorm(5.6, 0.8))))
        offset = text.index(" ", int(rand() * (len(text) - length - 20))) + 1
        output = error = None
        if status == "completed":
            size = min(8000, max(20, int(lognorm(6.0, 1.0))))
            at = text.index(" ", int(rand() * (len(text) - size - 20))) + 1
            output = text[at : at + size]
        elif status == "failed":
            error = choice(ERRORS)
        if started is None:
            tokens_in = tokens_out = cache_read = cache_write = cost = 0
            price = None
        else:
            tokens_in = int(lognorm(8.5, 1.0))
            tokens_out = int(lognorm(6.8, 1.0))
            cache_read = int(tokens_in * rand() * 0.8)
            cache_write = int(tokens_in * rand() * 0.2)
            per_in, per_out = MODELS[model]
            cost = round(tokens_in * per_in + tokens_out * per_out)  # micro-dollars
            price = "2026-01"
        session = f"sess-{int(rand() * 50_000):05d}" if rand() < 0.4 else None
        conversation = None
        if source in ("dashboard", "slack") and rand() < 0.7:
            conversation = f"conv-{int(rand() * 20_000):05d}"
        out.append(
            (
                task_id(rng, created),
                status,
                agent,
                source,
                None if status == "queued" else f"{agent}-{int(rand() * 8) + 1}",
                session,
                conversation,
                text[offset : offset + length],
                output,
                error,
                model,
                cost,
                price,
                tokens_in,
                tokens_out,
                cache_read,
                cache_write,
                datetime.fromtimestamp(created, tz),
                None if started is None else datetime.fromtimestamp(started, tz),
                None if completed is None else datetime.fromtimestamp(completed, tz),
                1,
            )
        )
    return out


async def recreate_database(url: str) -> None:
    server, _, name = url.rpartition("/")
    connection = await asyncpg.connect(server + "/postgres")
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


async def load(url: str, count: int) -> None:
    rng = random.Random(SEED)
    connection = await asyncpg.connect(url)
    try:
        indexes = await connection.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'tasks' "
            "AND indexname NOT IN (SELECT conname FROM pg_constraint)"
        )
        primary_key = await connection.fetchrow(
            "SELECT conname, pg_get_constraintdef(oid) AS definition FROM pg_constraint "
            "WHERE conrelid = 'tasks'::regclass AND contype = 'p'"
        )
        for index in indexes:
            await connection.execute(f'DROP INDEX "{index["indexname"]}"')
        await connection.execute(f'ALTER TABLE tasks DROP CONSTRAINT "{primary_key["conname"]}"')

        started = time.perf_counter()
        end = math.floor(datetime.now(UTC).timestamp() / 60) * 60.0
        moments = timestamps(rng, count, end)
        text = corpus(rng)
        for first in range(0, count, BATCH):
            batch = rows(rng, moments[first : first + BATCH], end, text)
            await connection.copy_records_to_table("tasks", records=batch, columns=COLUMNS)
        print(f"copied {count:,} rows in {time.perf_counter() - started:.1f} s", flush=True)

        step = time.perf_counter()
        statements = [
            f'ALTER TABLE tasks ADD CONSTRAINT "{primary_key["conname"]}" '
            + primary_key["definition"],
            *(index["indexdef"] for index in indexes),
        ]
        await build_indexes(url, statements)
        print(f"built {len(statements)} indexes in {time.perf_counter() - step:.1f} s", flush=True)

        step = time.perf_counter()
        await connection.execute("VACUUM (ANALYZE) tasks")
        print(f"vacuum + analyze in {time.perf_counter() - step:.1f} s", flush=True)
    finally:
        await connection.close()


async def build_indexes(url: str, statements: list[str], parallel: int = 2) -> None:
    """One connection per core, each taking the next CREATE INDEX from the queue."""
    queue = list(statements)

    async def worker() -> None:
        connection = await asyncpg.connect(url)
        try:
            await connection.execute("SET maintenance_work_mem = '512MB'")
            await connection.execute("SET max_parallel_maintenance_workers = 0")
            while queue:
                await connection.execute(queue.pop(0))
        finally:
            await connection.close()

    await asyncio.gather(*(worker() for _ in range(parallel)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    plain_url = args.database_url.replace("postgresql+asyncpg://", "postgresql://")

    began = time.perf_counter()
    asyncio.run(recreate_database(plain_url))
    upgrade(args.database_url)  # blocking Alembic: outside any event loop
    asyncio.run(load(plain_url, args.rows))
    print(f"generated {args.rows:,} tasks in {time.perf_counter() - began:.1f} s")


if __name__ == "__main__":
    main()
