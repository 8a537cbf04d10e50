"""What a REST task change costs through TaskService on PostgreSQL and the Redis bus: CPU and
wall time per change, this process (the service's side; not PostgreSQL's or Redis's).

    .venv/bin/python -m bench.rest_changes [--rounds 3] [--changes 300] [--writers 4]

Each round: `--writers` concurrent writers register tasks and move each to `running` (two
changes per task, each its own transaction and announcement, as `POST` and `PATCH
/api/tasks` do), on a database of its own (created, migrated, dropped) and the shared Redis
(stream and outbox names of its own). Compare two trees by running it with each tree's venv,
alternately (A B A B ...): the figures of one run are only comparable within that run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid

import asyncpg

from dashboard_api.bootstrap import build_adapters, build_services
from dashboard_api.bootstrap.database import migrate
from dashboard_api.domain.model.tasks import NewTask, TaskPatch, TaskStatus
from dashboard_api.settings import Settings

SERVER = os.environ.get("DASHBOARD_BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("DASHBOARD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


async def main(args: argparse.Namespace) -> None:
    name = f"bench_rest_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(f"{SERVER}/postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        settings = Settings(
            database_url=f"{SERVER.replace('postgresql://', 'postgresql+asyncpg://')}/{name}",
            redis_url=REDIS_URL,
            ingest_stream=f"bench:{name}",
        )
        await asyncio.to_thread(migrate, settings)
        adapters = await build_adapters(settings)
        tasks = build_services(adapters, settings).tasks
        per_writer = args.changes // (2 * args.writers)

        async def writer() -> None:
            for _ in range(per_writer):
                task = await tasks.register(NewTask(agent_type="coder"))
                await tasks.update(task.task_id, TaskPatch(status=TaskStatus.RUNNING))

        cpu, wall = [], []
        for _ in range(args.rounds):
            cpu0, wall0 = time.process_time(), time.perf_counter()
            await asyncio.gather(*(writer() for _ in range(args.writers)))
            changes = 2 * per_writer * args.writers
            cpu.append((time.process_time() - cpu0) / changes * 1e6)
            wall.append((time.perf_counter() - wall0) / changes * 1e6)
        await adapters.close()
        print(
            f"CPU us/change median {statistics.median(cpu):.0f} {[round(c) for c in cpu]};"
            f" wall us/change median {statistics.median(wall):.0f} {[round(w) for w in wall]}"
        )
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--changes", type=int, default=600)
    parser.add_argument("--writers", type=int, default=4)
    asyncio.run(main(parser.parse_args()))
