"""Instructions per ingested event, counted by callgrind: a CPU figure that other work on a
shared machine does not move (wall-clock and CPU-time figures there moved 20-40% from run to
run in the same minute).

    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=/tmp/ingest.out \\
        .venv/bin/python -m bench.ingest_instructions [--tasks 2000] [--silent]
    callgrind_annotate /tmp/ingest.out | grep "PROGRAM TOTALS"   # then / (3 x tasks)

bench.ingest_run's events are XADDed, then one ingestor built as bench.ingest_run builds it
(the GC frozen after start-up) drains them; instrumentation is switched on (`callgrind_control
-i on`) only for the drain, so start-up, migrations and the XADDs are not counted. The wait for
the drain polls once a second (each poll is counted: ~1% at 2,000 tasks). Under valgrind the
drain runs ~50x slower; batches stay full (the events are all in the stream first). Without
valgrind it prints the drain's CPU time only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import time
import uuid

import asyncpg
from redis.asyncio import Redis

from bench.ingest_run import GROUP, REDIS_URL, admin, build, database, events, xadd_all
from dashboard_api.adapters.sqlalchemy.migrate import upgrade


def _callgrind(switch: str) -> None:
    subprocess.run(
        ["callgrind_control", "-i", switch, str(os.getpid())],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )


async def run(tasks: int, silent: bool) -> None:
    name = f"ingest_instr_{uuid.uuid4().hex[:8]}"
    await admin(f'CREATE DATABASE "{name}"')
    url = database(name)
    redis = Redis.from_url(REDIS_URL)
    stream = f"bench:ingest:{uuid.uuid4().hex[:8]}"
    try:
        upgrade(url)
        prefix = f"i{uuid.uuid4().hex[:6]}-"
        payloads = events(prefix, tasks)
        await xadd_all(redis, stream, payloads)
        pg = await asyncpg.connect(url.replace("+asyncpg", ""))
        ingestor, adapters = await build(url, stream, 500, silent=silent)
        _callgrind("on")
        cpu, wall = time.process_time(), time.perf_counter()
        running = asyncio.create_task(ingestor.run())
        marks = "SELECT count(*) FROM processed_events"
        while True:
            if (
                await pg.fetchval(marks) >= len(payloads)
                and not (await redis.xpending(stream, GROUP))["pending"]
            ):
                break
            await asyncio.sleep(1.0)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        _callgrind("off")
        print(
            f"{len(payloads)} events, {wall:.1f} s,"
            f" {cpu / len(payloads) * 1e6:.1f} us CPU per event"
            + (" (announcements off)" if silent else "")
        )
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        await adapters.close()
        await pg.close()
    finally:
        await redis.delete(stream, stream + ":dead", f"{stream}:lease:{GROUP}")
        await redis.aclose()
        await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--silent", action="store_true", help="a bus that announces nothing")
    args = parser.parse_args()
    asyncio.run(run(args.tasks, args.silent))


if __name__ == "__main__":
    main()
