"""What rollup maintenance costs task writers: tasks/s with and without rollups, same run.

    .venv/bin/python -m bench.analytics_writes [--writers 8] [--seconds 10] [--rounds 3]

Eight concurrent writers each register a task and report it finished (two transactions per
task, through TaskService, as the API does) on a fresh PostgreSQL database. Modes alternate
round by round so machine noise falls on all of them alike:

- without: the unit of work records no rollups (the floor of task writes);
- deltas: the shipped design, writers append rollup deltas, the compactor folds them every s;
- upsert: the naive design, writers upsert the current hour's rows in their transaction.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import statistics
import time
from collections.abc import Sequence
from typing import Any, Self

import asyncpg
from sqlalchemy.dialects.postgresql import insert as pg_insert

from bench.run import HERE
from dashboard_api.adapters.sqlalchemy.engine import create_engine
from dashboard_api.adapters.sqlalchemy.migrate import upgrade
from dashboard_api.adapters.sqlalchemy.rollups.columns import (
    FIGURE_COLUMNS,
    KEY_COLUMNS,
    figure_values,
)
from dashboard_api.adapters.sqlalchemy.rollups.compactor import RollupCompactor
from dashboard_api.adapters.sqlalchemy.tables import rollups_daily, rollups_hourly
from dashboard_api.adapters.sqlalchemy.unit_of_work import SqlUnitOfWork
from dashboard_api.domain.model.buckets import day_of
from dashboard_api.domain.model.rollups import RollupChange
from dashboard_api.domain.model.tasks import NewTask, TaskPatch, TaskStatus
from dashboard_api.domain.services.tasks import TaskService
from dashboard_api.price_file import load_prices

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/dashboard_bench_analytics_writes"
AGENTS = ("coder", "reviewer")
MODELS = ("claude-sonnet-4", "claude-haiku-3.5")


class _NoRollups:
    async def record(self, changes: Sequence[RollupChange]) -> None:
        return None


class _UpsertRollups:
    """The naive design: add each change to its hour and day rows inside the transaction."""

    def __init__(self, connection: Any) -> None:
        self._connection = connection

    async def record(self, changes: Sequence[RollupChange]) -> None:
        for key, figures in changes:
            for table, column, moment in (
                (rollups_hourly, "hour", key.hour),
                (rollups_daily, "day", day_of(key.hour)),
            ):
                row = {column: moment, **dict(zip(KEY_COLUMNS, key[1:], strict=True))}
                statement = pg_insert(table).values({**row, **figure_values(figures)})
                statement = statement.on_conflict_do_update(
                    index_elements=[column, *KEY_COLUMNS],
                    set_={n: table.c[n] + statement.excluded[n] for n in FIGURE_COLUMNS},
                )
                await self._connection.execute(statement)


class _BenchUnitOfWork(SqlUnitOfWork):
    mode = "deltas"

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        if self.mode == "without":
            self.rollups = _NoRollups()  # type: ignore[assignment]
        elif self.mode == "upsert":
            self.rollups = _UpsertRollups(self._connection)  # type: ignore[assignment]
        return self


async def _writer(service: TaskService, serial: itertools.count, stop_at: float) -> int:
    written = 0
    while time.perf_counter() < stop_at:
        n = next(serial)
        new = NewTask(agent_type=AGENTS[n % 2], model=MODELS[n // 2 % 2], input_message="bench")
        task = await service.register(new)
        done = TaskPatch(status=TaskStatus.COMPLETED, input_tokens=1000 + n % 97, output_tokens=200)
        await service.update(task.task_id, done)
        written += 1
    return written


async def _round(
    mode: str, engine: Any, writers: int, seconds: float, serial: itertools.count
) -> float:
    class UnitOfWork(_BenchUnitOfWork):
        pass

    UnitOfWork.mode = mode
    service = TaskService(
        unit_of_work=lambda: UnitOfWork(engine),
        reads=None,  # type: ignore[arg-type]  # writers read through their unit of work
        bus=_NullBus(),
        prices=load_prices(),
    )
    compactor = RollupCompactor(engine, interval=1.0)
    if mode == "deltas":
        compactor.start()
    began = time.perf_counter()
    try:
        counts = await asyncio.gather(
            *(_writer(service, serial, began + seconds) for _ in range(writers))
        )
    finally:
        await compactor.stop()
    return sum(counts) / (time.perf_counter() - began)


class _NullBus:
    async def publish(self, channel: str, event: Any) -> str:
        return "0"

    async def publish_many(self, events: Any) -> list[str]:
        return ["0" for _ in events]

    async def stage(self, outbox: str, token: str, events: Any) -> list[str]:
        return []

    async def staged(self, outbox: str) -> list[str]:
        return []

    async def publish_staged(self, outbox: str, token: str) -> None:
        return None

    async def drop_staged(self, outbox: str, token: str) -> None:
        return None


async def _recreate(url: str) -> None:
    server, _, name = url.replace("+asyncpg", "").rpartition("/")
    connection = await asyncpg.connect(server + "/postgres")
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


async def _drop(url: str) -> None:
    server, _, name = url.replace("+asyncpg", "").rpartition("/")
    connection = await asyncpg.connect(server + "/postgres")
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


async def _run(args: argparse.Namespace) -> dict[str, list[float]]:
    engine = create_engine(args.database_url, pool_size=args.writers + 2)
    serial = itertools.count()
    rates: dict[str, list[float]] = {mode: [] for mode in args.modes}
    try:
        await _round("without", engine, args.writers, 2, serial)  # warm-up
        for round_number in range(args.rounds):
            for mode in args.modes:
                rate = await _round(mode, engine, args.writers, args.seconds, serial)
                rates[mode].append(rate)
                print(f"round {round_number + 1} {mode:8} {rate:8.0f} tasks/s", flush=True)
    finally:
        await engine.dispose()
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--modes", nargs="+", default=["without", "deltas", "upsert"])
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    asyncio.run(_recreate(args.database_url))
    upgrade(args.database_url)
    try:
        rates = asyncio.run(_run(args))
    finally:
        if not args.keep:
            asyncio.run(_drop(args.database_url))
    floor = statistics.median(rates["without"]) if "without" in rates else None
    print()
    for mode, values in rates.items():
        median = statistics.median(values)
        cost = "" if not floor else f"  cost {1 - median / floor:.0%} of write throughput"
        print(
            f"{mode:8} median {median:7.0f} tasks/s  (rounds: {[round(v) for v in values]}){cost}"
        )
    out = HERE / "results" / "analytics-writes.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"writers": args.writers, "seconds": args.seconds, "rates": rates}))


if __name__ == "__main__":
    main()
