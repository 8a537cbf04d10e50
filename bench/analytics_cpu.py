"""CPU per analytics answer, in process: Python (this process) and PostgreSQL (its backend).

    .venv/bin/python -m bench.analytics_cpu --database-url URL [--calls 300]
    PYTHONPATH=../base/src .venv/bin/python -m bench.analytics_cpu ...   # another checkout

Wall-clock figures on a shared machine swing with other load; CPU time spent on the request's
behalf swings much less. One AnalyticsService over a pool of one connection (so one PostgreSQL
backend, whose CPU /proc reports), the compactor running beside it as in the service (every
--compact-seconds, on its own connection, not counted), three modes per answer: "after write"
(a rollup change for the current hour committed just before, as a finished task records it),
"hit" (nothing changed
since the last call) and "uncached" (cache off: every request sums the rollups). The write's
own CPU is not counted. Figures: mean µs per call over --calls calls (PostgreSQL's CPU is
counted in 10 ms ticks, so it is exact only on average over many calls).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from sqlalchemy import text

from bench.generate import AGENTS, MODELS
from dashboard_api.adapters.sqlalchemy.engine import create_engine
from dashboard_api.adapters.sqlalchemy.rollups.compactor import RollupCompactor
from dashboard_api.adapters.sqlalchemy.rollups.store import SqlRollupStore
from dashboard_api.adapters.sqlalchemy.tasks import SqlTaskStore
from dashboard_api.adapters.sqlalchemy.unit_of_work import SqlUnitOfWork
from dashboard_api.domain.model.buckets import hour_of
from dashboard_api.domain.model.rollups import Figures, RollupChange, RollupKey
from dashboard_api.domain.services.analytics import (
    AnalyticsService,
    Granularity,
    trailing_window,
)

_TICK = os.sysconf("SC_CLK_TCK")
_MODELS = tuple(MODELS)


def _backend_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


async def _run(args: argparse.Namespace) -> None:
    # Both sides start from a vacuumed delta table (the server here runs without autovacuum).
    plain = args.database_url.replace("+asyncpg", "")
    admin = await asyncpg.connect(plain)
    await admin.execute("VACUUM rollup_deltas")
    await admin.close()
    engine = create_engine(args.database_url, pool_size=1)
    # The service's compactor, on a connection of its own (its CPU is not counted).
    compactor_engine = create_engine(args.database_url, pool_size=1)
    compactor = RollupCompactor(compactor_engine, interval=args.compact_seconds)
    await compactor.run_once()
    compactor.start()
    async with engine.connect() as connection:
        pid = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
    now = datetime.now(UTC)
    hourly = trailing_window(now, 30, Granularity.HOUR)
    daily = trailing_window(now, 30, Granularity.DAY)
    key = RollupKey(hour_of(now), "code-review", "claude-sonnet-4", "completed")

    async def write(*keys: RollupKey) -> None:
        async with SqlUnitOfWork(engine) as uow:
            await uow.rollups.record(
                [RollupChange(k, Figures(tasks=1, completed=1)) for k in keys or (key,)]
            )
            await uow.commit()

    if args.pending:
        # A database in service: every day of the window has folded changes counted, and the
        # deltas of the last couple of seconds are pending (the state of a hit between two
        # compactions). One change per hour of the last 30 days, compacted; then --pending
        # changes over today's hours, agent types and models, left pending (run with a
        # --compact-seconds longer than the run).
        start = hour_of(now) - timedelta(days=30)
        await write(*(key._replace(hour=start + timedelta(hours=h)) for h in range(30 * 24)))
        await compactor.run_once()
        await write(
            *(
                RollupKey(
                    hour_of(now) - timedelta(hours=n % 12),
                    AGENTS[n % len(AGENTS)],
                    _MODELS[n % len(_MODELS)],
                    "completed",
                )
                for n in range(args.pending)
            )
        )

    print(f"load average {os.getloadavg()}; {args.calls} calls per figure")
    print("| answer | mode | wall p50 | Python CPU | PostgreSQL CPU | total CPU |")
    print("|---|---|---|---|---|---|")
    for mode in args.modes:
        analytics = AnalyticsService(
            rollups=SqlRollupStore(engine),
            tasks=SqlTaskStore(engine),
            cache_entries=0 if mode == "uncached" else 256,
        )
        answers: dict[str, Callable[[], Awaitable[object]]] = {
            "summary": lambda a=analytics: a.summary(None, None),  # type: ignore[misc]
            "histogram-30d": lambda a=analytics: a.cost_histogram(*daily, Granularity.DAY),  # type: ignore[misc]
            "performance": lambda a=analytics: a.performance(*hourly),  # type: ignore[misc]
            "performance-by-model": lambda a=analytics: a.performance(*hourly, by_model=True),  # type: ignore[misc]
        }
        for name, answer in answers.items():
            await answer()
            walls, python, database = [], 0.0, 0.0
            for _ in range(args.calls):
                if mode == "after write":
                    await write()
                backend, process = _backend_cpu(pid), time.process_time()
                began = time.perf_counter()
                await answer()
                walls.append(time.perf_counter() - began)
                python += time.process_time() - process
                database += _backend_cpu(pid) - backend
            python, database = python / args.calls * 1e6, database / args.calls * 1e6
            print(
                f"| {name} | {mode} | {statistics.median(walls) * 1e3:.2f} ms | "
                f"{python:.0f} µs | {database:.0f} µs | {python + database:.0f} µs |",
                flush=True,
            )
    await compactor.stop()
    await compactor_engine.dispose()
    await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--compact-seconds", type=float, default=2.0)
    parser.add_argument(
        "--pending",
        type=int,
        default=0,
        help="count changes for every hour of 30 days, then leave this many pending",
    )
    parser.add_argument(
        "--modes", nargs="+", default=["after write", "hit", "uncached"], help="of those three"
    )
    asyncio.run(_run(parser.parse_args()))


if __name__ == "__main__":
    main()
