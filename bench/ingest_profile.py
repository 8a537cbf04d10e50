"""Where one ingest batch's time goes: SQL statements and round trips per batch, and a cProfile
of the consumer applying lifecycle events on PostgreSQL (announcements off unless --announce).

    .venv/bin/python -m bench.ingest_profile [--tasks 2000] [--batch 500] [--top 25]

The events are bench.ingest_run's (created, started, completed per task, ~200 tasks in
flight). Statements are counted with SQLAlchemy's cursor events (an executemany is one
statement, and one round trip on asyncpg, which pipelines it), plus the reads that go
straight to asyncpg (`SqlStore._fetch_fast`), plus BEGIN and COMMIT. With `--no-profile` it
shows, instead of cProfile's tables, the CPU and wall time per event spent in each part of
the path (a part's figure includes the parts it calls).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import re
import time
import uuid
from collections import Counter
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import event
from sqlalchemy.engine import Engine

from bench.ingest_run import REDIS_URL, admin, build, database, events, wait_marks, xadd_all
from dashboard_api.adapters.sqlalchemy.migrate import upgrade
from dashboard_api.adapters.sqlalchemy.store import SqlStore

statements: Counter[str] = Counter()
rows: Counter[str] = Counter()


def _kind(sql: str) -> str:
    words = re.sub(r"\s+", " ", sql).strip().split(" ")
    verb = words[0].upper()
    table = next(
        (words[i + 1] for i, word in enumerate(words[:-1]) if word.upper() in ("INTO", "FROM")),
        "",
    )
    if verb == "UPDATE":
        table = words[1]
    return verb + " " + table.strip('"(')


def _count(
    conn: Any, cursor: Any, sql: str, parameters: Any, context: Any, executemany: bool
) -> None:
    kind = _kind(sql) + (" (executemany)" if executemany else "")
    statements[kind] += 1
    rows[kind] += len(parameters) if executemany else 1


def _transaction(name: str) -> Any:
    def count(*_: Any) -> None:
        statements[name] += 1

    return count


part_cpu: Counter[str] = Counter()
part_wall: Counter[str] = Counter()


def _timed(owner: type, name: str) -> None:
    """CPU and wall time spent in `owner.name` (nested calls are counted in their callers too);
    a name the code run has not got (an older tree) is left out."""
    original = getattr(owner, name, None)
    if original is None:
        return

    async def timed(*args: Any, **kwargs: Any) -> Any:
        started_cpu, started = time.process_time(), time.perf_counter()
        try:
            return await original(*args, **kwargs)
        finally:
            part_cpu[f"{owner.__name__}.{name}"] += time.process_time() - started_cpu
            part_wall[f"{owner.__name__}.{name}"] += time.perf_counter() - started

    setattr(owner, name, timed)


def _phases() -> None:
    from dashboard_api.adapters.redis.ingest import RedisIngestQueue
    from dashboard_api.adapters.sqlalchemy.processed_events import SqlProcessedEvents
    from dashboard_api.adapters.sqlalchemy.rollups.store import SqlRollupStore
    from dashboard_api.adapters.sqlalchemy.spend import SqlSpendStore
    from dashboard_api.adapters.sqlalchemy.tasks import SqlTaskStore
    from dashboard_api.adapters.sqlalchemy.unit_of_work import SqlUnitOfWork
    from dashboard_api.domain.services.ingestion import Ingestor
    from dashboard_api.domain.services.tasks import TaskService

    for owner, names in (
        # `_process` applies a batch, `_finish` announces and acknowledges it while the next is
        # applied (overlapped: their wall times add up to more than the run's).
        (Ingestor, ["process", "_process", "_finish"]),
        (TaskService, ["ingest_batch", "apply_batch", "_store_batch", "_announce_steps"]),
        (SqlTaskStore, ["get_many", "add_many", "replace_many"]),
        (SqlProcessedEvents, ["seen", "add_many"]),
        (SqlRollupStore, ["record"]),
        (SqlSpendStore, ["add"]),
        (SqlUnitOfWork, ["commit"]),
        (RedisIngestQueue, ["read", "pending", "ack"]),
    ):
        for name in names:
            _timed(owner, name)


def _instrument() -> None:
    event.listen(Engine, "before_cursor_execute", _count)
    event.listen(Engine, "begin", _transaction("BEGIN"))
    event.listen(Engine, "commit", _transaction("COMMIT"))
    fast = SqlStore._fetch_fast

    async def fetch_fast(self: SqlStore, sql: str, *args: Any) -> list[Any] | None:
        result = await fast(self, sql, *args)
        if result is not None:
            statements[_kind(sql) + " (asyncpg)"] += 1
        return result

    SqlStore._fetch_fast = fetch_fast  # type: ignore[method-assign]


async def run(tasks: int, batch: int, profile: bool, top: int, announce: bool) -> None:
    name = f"ingest_profile_{uuid.uuid4().hex[:8]}"
    await admin(f'CREATE DATABASE "{name}"')
    url = database(name)
    redis = Redis.from_url(REDIS_URL)
    stream = f"bench:ingest:{uuid.uuid4().hex[:8]}"
    try:
        upgrade(url)
        import asyncpg

        prefix = f"p{uuid.uuid4().hex[:6]}-"
        payloads = events(prefix, tasks)
        await xadd_all(redis, stream, payloads)
        pg = await asyncpg.connect(url.replace("+asyncpg", ""))
        ingestor, adapters = await build(url, stream, batch, silent=not announce)
        _instrument()
        if not profile:
            _phases()
        # CPU time, not wall time: on a shared machine a C call waiting for a core would look slow.
        profiler = cProfile.Profile(time.process_time) if profile else None
        cpu, wall = time.process_time(), time.perf_counter()
        if profiler:
            profiler.enable()
        running = asyncio.create_task(ingestor.run())
        await wait_marks(pg, prefix, len(payloads))
        if profiler:
            profiler.disable()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        await adapters.close()
        await pg.close()
        batches = -(-len(payloads) // batch)
        print(
            f"{len(payloads)} events in {batches} batches of {batch}: {wall:.2f} s wall, "
            f"{cpu / len(payloads) * 1e6:.0f} us CPU per event"
            + (" (under cProfile)" if profile else "")
        )
        print("statements per batch (rows per batch), this process's view:")
        total = 0
        for kind, count in statements.most_common():
            if kind.startswith("SELECT count(*)"):
                continue
            total += count
            print(f"  {count / batches:8.1f}  ({rows[kind] / batches:6.1f})  {kind}")
        print(f"  {total / batches:8.1f}  statements (round trips to PostgreSQL) per batch")
        if part_cpu:
            print("CPU (wall) per event in each part, this process's CPU:")
            for part, spent in part_cpu.most_common():
                per_event = spent / len(payloads) * 1e6
                walled = part_wall[part] / len(payloads) * 1e6
                print(f"  {per_event:6.1f} us ({walled:6.1f} us)  {part}")
        if profiler:
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out)
            stats.sort_stats("tottime").print_stats(top)
            stats.sort_stats("cumulative").print_stats(top)
            print(out.getvalue())
    finally:
        await redis.delete(stream, stream + ":dead", f"{stream}:lease:dashboard-api")
        await redis.aclose()
        await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    import logging

    logging.basicConfig(level=logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--announce", action="store_true", help="publish to the real bus")
    args = parser.parse_args()
    asyncio.run(run(args.tasks, args.batch, not args.no_profile, args.top, args.announce))


if __name__ == "__main__":
    main()
