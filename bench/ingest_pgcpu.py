"""PostgreSQL's CPU per ingested event beside the ingesting process's, for the ingestor and
the full floor of bench.ingest_run (bench.ingest_run counts the ingesting process only).

    .venv/bin/python -m bench.ingest_pgcpu [--tasks 10000]

Each side writes bench.ingest_run's events into a database of its own; the CPU of the
PostgreSQL backends connected to that database (utime + stime from /proc/<pid>/stat: the
server must run on this host and be readable) is read before and after the drain (the
ingestor's pool stays open meanwhile) or, for the floor, whose one connection closes at its
end, sampled every 20 ms while it runs (the last sample is taken up to 20 ms early).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid

import asyncpg
from redis.asyncio import Redis

from bench.ingest_run import (
    ADMIN_URL,
    GROUP,
    REDIS_URL,
    admin,
    build,
    database,
    events,
    floor,
    wait_acknowledged,
    wait_marks,
    xadd_all,
)
from dashboard_api.adapters.sqlalchemy.migrate import upgrade

TICKS = os.sysconf("SC_CLK_TCK")


async def backends_cpu(admin_pg: asyncpg.Connection, database_name: str) -> tuple[float, int]:
    """Seconds of CPU the backends connected to `database_name` have used, and how many."""
    rows = await admin_pg.fetch(
        "SELECT pid FROM pg_stat_activity WHERE datname = $1", database_name
    )
    return sum(_ticks(row["pid"]) for row in rows) / TICKS, len(rows)


def _ticks(pid: int) -> int:
    """utime + stime of a process, in clock ticks (0 if it ended meanwhile)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0
    return int(fields[11]) + int(fields[12])


async def run(tasks: int) -> None:
    name = f"ingest_pgcpu_{uuid.uuid4().hex[:8]}"
    floor_name = name + "_floor"
    for created in (name, floor_name):
        await admin(f'CREATE DATABASE "{created}"')
    admin_pg = await asyncpg.connect(ADMIN_URL.replace("+asyncpg", ""))
    redis = Redis.from_url(REDIS_URL)
    stream = f"bench:ingest:{uuid.uuid4().hex[:8]}"
    try:
        url, floor_url = database(name), database(floor_name)
        upgrade(url)
        upgrade(floor_url)
        prefix = f"d{uuid.uuid4().hex[:6]}-"
        payloads = events(prefix, tasks)
        await xadd_all(redis, stream, payloads)
        pg = await asyncpg.connect(url.replace("+asyncpg", ""))
        ingestor, adapters = await build(url, stream, 500)
        before, _ = await backends_cpu(admin_pg, name)
        cpu, wall = time.process_time(), time.perf_counter()
        running = asyncio.create_task(ingestor.run())
        await wait_marks(pg, prefix, len(payloads))
        await wait_acknowledged(redis, stream)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        after, connected = await backends_cpu(admin_pg, name)
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        await adapters.close()
        await pg.close()
        per_event = 1e6 / len(payloads)
        print(
            f"ingestor: {len(payloads) / wall:,.0f} events/s, this process {cpu * per_event:.1f}"
            f" us CPU per event, PostgreSQL ({connected} backends)"
            f" {(after - before) * per_event:.1f} us"
        )
        samples: list[float] = []

        async def sample() -> None:
            while True:
                samples.append((await backends_cpu(admin_pg, floor_name))[0])
                await asyncio.sleep(0.02)

        sampler = asyncio.create_task(sample())
        result = await floor(floor_url, tasks, 500, prefix)
        sampler.cancel()
        await asyncio.gather(sampler, return_exceptions=True)
        print(
            f"floor: {result['events_per_second']:,.0f} events/s, this process"
            f" {result['cpu_us_per_event']:.1f} us CPU per event, PostgreSQL (1 backend)"
            f" {max(samples, default=0.0) * per_event:.1f} us"
        )
    finally:
        await redis.delete(stream, stream + ":dead", f"{stream}:lease:{GROUP}")
        await admin_pg.close()
        await redis.aclose()
        for dropped in (name, floor_name):
            await admin(f'DROP DATABASE IF EXISTS "{dropped}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    args = parser.parse_args()
    asyncio.run(run(args.tasks))


if __name__ == "__main__":
    main()
