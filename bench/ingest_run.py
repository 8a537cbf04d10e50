"""Durable ingestion throughput: lifecycle events applied per second and CPU per event at one
worker on PostgreSQL, beside a floor, and the XADD-to-row lag under a steady load.

    .venv/bin/python -m bench.ingest_run [--tasks 10000] [--rate 2000] [--batch 500]

- drain: `--tasks` tasks x 3 events (created, started, completed with a cost) are XADDed
  first, then one ingestor (the app's: `build_adapters` + `build_services`, then the cyclic
  GC frozen as the server freezes it after start-up; since 2026-11-30 19:00 UTC) drains the stream;
  events/s = events / drain time (until the last event's mark is committed and every entry
  acknowledged, so the last batch's announcements are in it), CPU per event = this process's
  CPU time / events.
- floor: the rows the service writes, written by a bare asyncpg script into a database of
  its own: per batch, one transaction with one batched statement per table (tasks upserted
  in their state at the end of the batch, the processed-event marks, the rollup deltas summed
  per row, the spend upserted per key; the bench's events have no conversation, so no
  conversation totals); the deltas are computed in the script from what it wrote before, no
  reads. After the run the row counts of both databases are compared: the bench fails if they
  differ.
- narrow floor (the floor of earlier runs, kept for comparison): tasks and marks only.
- lag: events XADDed at `--rate`/s while the ingestor runs; lag = processed_at of the event's
  mark minus the time in its stream entry id (same host clock); p50/p99.

Runs on DASHBOARD_TEST_DATABASE_URL's server (a database of its own, dropped afterwards) and
DASHBOARD_TEST_REDIS_URL (stream names of its own, deleted afterwards).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import json
import os
import platform
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import msgspec
from redis.asyncio import Redis

from dashboard_api.adapters.sqlalchemy.migrate import upgrade
from dashboard_api.adapters.sqlalchemy.tables import rollup_figure_columns
from dashboard_api.bootstrap import build_adapters, build_services
from dashboard_api.domain.model.buckets import day_of
from dashboard_api.domain.model.rollups import DURATION_BOUNDS_SECONDS, duration_bucket
from dashboard_api.domain.services.ingestion import Ingestor
from dashboard_api.settings import Settings

ADMIN_URL = os.environ.get(
    "DASHBOARD_TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("DASHBOARD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def events(prefix: str, tasks: int, seed: int = 1) -> list[bytes]:
    """Each task's three events in order, tasks interleaved as a fleet's would be."""
    rng = random.Random(seed)
    out: list[bytes] = []
    window: list[list[dict[str, Any]]] = []
    made = 0
    while made < tasks or window:
        while made < tasks and len(window) < 200:  # ~200 tasks in flight at once
            task_id = f"{prefix}{made}"
            cost = str(Decimal(rng.randrange(1, 10**6)) / Decimal(10**6))
            window.append(
                [
                    {"type": "task.created", "agent_type": f"agent-{made % 8}", "model": "m1"},
                    {"type": "task.started"},
                    {"type": "task.completed", "cost_usd": cost, "input_tokens": 100},
                ]
            )
            for event in window[-1]:
                event |= {"task_id": task_id, "event_id": f"{task_id}:{event['type']}"}
            made += 1
        lane = window[rng.randrange(len(window))]
        out.append(msgspec.json.encode(lane.pop(0)))
        if not lane:
            window.remove(lane)
    return out


async def xadd_all(redis: Redis, stream: str, payloads: list[bytes]) -> None:
    for start in range(0, len(payloads), 1000):
        async with redis.pipeline(transaction=False) as pipe:
            for payload in payloads[start : start + 1000]:
                pipe.xadd(stream, {"event": payload})
            await pipe.execute()


async def admin(statement: str) -> None:
    connection = await asyncpg.connect(ADMIN_URL.replace("+asyncpg", ""))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def database(name: str) -> str:
    return f"{ADMIN_URL.rpartition('/')[0]}/{name}"


async def wait_marks(pg: asyncpg.Connection, prefix: str, total: int) -> None:
    query = "SELECT count(*) FROM processed_events WHERE event_id LIKE $1"
    while True:
        if await pg.fetchval(query, prefix + "%") >= total:
            return
        await asyncio.sleep(0.05)


async def wait_acknowledged(redis: Redis, stream: str) -> None:
    """Every entry acknowledged: the ingestor acknowledges a batch after announcing it."""
    while True:
        if not (await redis.xpending(stream, GROUP))["pending"]:
            return
        await asyncio.sleep(0.01)


GROUP = Settings().ingest_group
COUNTED_TABLES = ("tasks", "processed_events", "rollup_deltas", "spend_hourly")


async def row_counts(url: str) -> dict[str, int]:
    pg = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        counts = {
            name: await pg.fetchval(f"SELECT count(*) FROM {name}") for name in COUNTED_TABLES
        }
        for name in ("rollup_deltas", "spend_hourly"):  # and what they add up to
            for column in ("tasks", "cost_micros"):
                counts[f"{name}.sum({column})"] = await pg.fetchval(
                    f"SELECT coalesce(sum({column}), 0)::bigint FROM {name}"
                )
        return counts
    finally:
        await pg.close()


class SilentBus:
    """A bus that publishes nothing: isolates the ingest path from the announcements."""

    async def publish(self, channel: str, event: Any) -> str:
        return ""

    async def publish_many(self, events: Any) -> list[str]:
        return ["" for _ in events]

    async def stage(self, outbox: str, token: str, events: Any) -> None:
        return None

    async def staged(self, outbox: str) -> list[str]:
        return []

    async def publish_staged(self, outbox: str, token: str) -> None:
        return None

    async def drop_staged(self, outbox: str, token: str) -> None:
        return None

    async def history(self, channel: str, *, after: str | None, limit: int) -> list[bytes]:
        return []

    async def open_feed(self, deliver: Any, resubscribed: Any) -> Any:
        raise NotImplementedError


async def build(url: str, stream: str, batch: int, *, silent: bool = False) -> tuple[Ingestor, Any]:
    settings = Settings(
        database_url=url,
        redis_url=REDIS_URL,
        ingest_stream=stream,
        ingest_dead_letter_stream=stream + ":dead",
        ingest_batch=batch,
        ingest_consumer="bench",
    )
    adapters = await build_adapters(settings)
    wired = dataclasses.replace(adapters, bus=SilentBus()) if silent else adapters
    ingestor = build_services(wired, settings).ingestor
    # As the server does after start-up (`app_from_env`, freeze_gc): what start-up built is
    # kept out of the cyclic collector. Without it every full pass during the drain walks the
    # bench's ~140k start-up objects (migrations, SQLAlchemy): ~20 us of CPU per event that a
    # served ingestor does not spend (measured 2026-11-30, docs/benchmarks-realtime.md).
    gc.collect()
    gc.freeze()
    return ingestor, adapters


async def drain(
    url: str, redis: Redis, tasks: int, batch: int, *, silent: bool = False, prefix: str = ""
) -> dict[str, float]:
    stream = f"bench:ingest:{uuid.uuid4().hex[:8]}"
    prefix = prefix or f"d{uuid.uuid4().hex[:6]}-"
    payloads = events(prefix, tasks)
    await xadd_all(redis, stream, payloads)
    pg = await asyncpg.connect(url.replace("+asyncpg", ""))
    ingestor, adapters = await build(url, stream, batch, silent=silent)
    cpu, wall = time.process_time(), time.perf_counter()
    running = asyncio.create_task(ingestor.run())
    await wait_marks(pg, prefix, len(payloads))
    await wait_acknowledged(redis, stream)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    running.cancel()
    await asyncio.gather(running, return_exceptions=True)
    await adapters.close()
    await pg.close()
    await redis.delete(stream, stream + ":dead", f"{stream}:lease:dashboard-api")
    return figures(len(payloads), wall, cpu)


def figures(events: int, wall: float, cpu: float) -> dict[str, float]:
    """A phase's rate and this process's CPU per event."""
    return {
        "events": events,
        "seconds": round(wall, 2),
        "events_per_second": round(events / wall),
        "cpu_us_per_event": round(cpu / events * 1e6),
    }


async def narrow_floor(url: str, tasks: int, batch: int) -> dict[str, float]:
    """The floor of earlier runs: tasks and marks only, one batch per transaction: one INSERT
    … ON CONFLICT for the tasks (each task's final state in the batch) and one for the marks.
    Writes fewer rows than the service (no rollup deltas, no spend)."""
    prefix = f"f{uuid.uuid4().hex[:6]}-"
    decoded = [msgspec.json.decode(payload) for payload in events(prefix, tasks)]
    pg = await asyncpg.connect(url.replace("+asyncpg", ""))
    cpu, wall = time.process_time(), time.perf_counter()
    for start in range(0, len(decoded), batch):
        rows: dict[str, tuple[Any, ...]] = {}
        now = time.time()
        for event in decoded[start : start + batch]:
            status = {"task.created": "queued", "task.started": "running"}.get(
                event["type"], "completed"
            )
            cost = int(Decimal(event.get("cost_usd", "0")) * 10**6)
            previous = rows.get(event["task_id"])
            version = previous[3] + 1 if previous else 1
            rows[event["task_id"]] = (
                event["task_id"],
                status,
                event.get("agent_type", "a"),
                version,
                cost,
            )
        async with pg.transaction():
            await pg.executemany(FLOOR_TASK, [(*row, now) for row in rows.values()])
            await pg.execute(
                "INSERT INTO processed_events (event_id, processed_at)"
                " SELECT unnest($1::text[]), now() ON CONFLICT DO NOTHING",
                [event["event_id"] for event in decoded[start : start + batch]],
            )
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    await pg.close()
    return figures(len(decoded), wall, cpu)


async def floor(url: str, tasks: int, batch: int, prefix: str) -> dict[str, float]:
    """The rows the service writes, one batch per transaction, one batched statement per
    table: the tasks as the batch leaves them, the marks, the rollup deltas (each task's old
    contribution out of its row, the new one in, summed per row, rows that net to nothing
    left out: what `merged_changes(rollup_changes(...))` gives) and the spend per source and
    hour (upserted increments). The script keeps what it wrote in memory: it reads nothing."""
    decoded = [msgspec.json.decode(payload) for payload in events(prefix, tasks)]
    pg = await asyncpg.connect(url.replace("+asyncpg", ""))
    written: dict[str, dict[str, Any]] = {}  # each task as last written
    cpu, wall = time.process_time(), time.perf_counter()
    for start in range(0, len(decoded), batch):
        now = datetime.now(UTC)
        before: dict[str, dict[str, Any] | None] = {}
        for event in decoded[start : start + batch]:
            task_id = event["task_id"]
            current = written.get(task_id)
            if task_id not in before:
                before[task_id] = current
            if event["type"] == "task.created":
                written[task_id] = {
                    "status": "queued", "agent_type": event["agent_type"],
                    "model": event.get("model") or "", "created_at": now, "started_at": None,
                    "completed_at": None, "cost_micros": 0, "input_tokens": 0, "version": 1,
                }  # fmt: skip
            elif event["type"] == "task.started":
                written[task_id] = current | {
                    "status": "running",
                    "started_at": now,
                    "version": current["version"] + 1,
                }  # type: ignore[operator]
            else:
                written[task_id] = current | {  # type: ignore[operator]
                    "status": "completed", "completed_at": now,
                    "cost_micros": int(Decimal(event["cost_usd"]) * 10**6),
                    "input_tokens": event["input_tokens"], "version": current["version"] + 1,
                }  # fmt: skip
        deltas: dict[tuple[Any, ...], list[int]] = {}
        spend: dict[tuple[Any, ...], list[int]] = {}
        for task_id, old in before.items():
            for task, sign in ((old, -1), (written[task_id], 1)):
                if task is None:
                    continue
                hour = task["created_at"].replace(minute=0, second=0, microsecond=0)
                key = (hour, task["agent_type"], task["model"], task["status"])
                row = deltas.setdefault(key, [0] * (10 + len(DURATION_BOUNDS_SECONDS) + 1))
                for n, value in enumerate(_floor_figures(task)):
                    row[n] += sign * value
                spent = (1, task["cost_micros"], task["input_tokens"], 0)
                total = spend.setdefault(("source", "api", hour), [0, 0, 0, 0])
                for n, value in enumerate(spent):
                    total[n] += sign * value
        async with pg.transaction():
            await pg.executemany(
                FULL_FLOOR_TASK,
                [
                    (task_id, task["status"], task["agent_type"], task["model"] or None,
                     task["cost_micros"], task["input_tokens"], task["created_at"],
                     task["started_at"], task["completed_at"], task["version"])
                    for task_id in before
                    for task in (written[task_id],)
                ],
            )  # fmt: skip
            await pg.execute(
                "INSERT INTO processed_events (event_id, processed_at)"
                " SELECT unnest($1::text[]), now() ON CONFLICT DO NOTHING",
                [event["event_id"] for event in decoded[start : start + batch]],
            )
            rows = [(*key, day_of(key[0]), *row) for key, row in deltas.items() if any(row)]
            if rows:
                await pg.executemany(FLOOR_DELTAS, rows)
            increments = [(*key, *total) for key, total in sorted(spend.items()) if any(total)]
            if increments:
                await pg.executemany(FLOOR_SPEND, increments)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    await pg.close()
    return figures(len(decoded), wall, cpu)


def _floor_figures(task: dict[str, Any]) -> list[int]:
    """A task's rollup figures in column order (as `rollup_figure_columns`)."""
    durations = [0] * (len(DURATION_BOUNDS_SECONDS) + 1)
    duration = 0
    if task["completed_at"] is not None:
        duration = (task["completed_at"] - task["created_at"]) // timedelta(microseconds=1)
        durations[duration_bucket(duration)] = 1
    completed = int(task["status"] == "completed")
    finished = int(task["completed_at"] is not None)
    return [
        1, completed, 0, finished, task["cost_micros"], task["input_tokens"], 0, 0, 0,
        duration, *durations,
    ]  # fmt: skip


FIGURES = [column.name for column in rollup_figure_columns()]
FLOOR_DELTAS = (
    f"INSERT INTO rollup_deltas (hour, agent_type, model, status, day, {', '.join(FIGURES)})"
    f" VALUES ({', '.join(f'${n}' for n in range(1, len(FIGURES) + 6))})"
)
FLOOR_SPEND = """
INSERT INTO spend_hourly (dimension, key, hour, tasks, cost_micros, input_tokens, output_tokens)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (dimension, key, hour) DO UPDATE SET tasks = spend_hourly.tasks + excluded.tasks,
    cost_micros = spend_hourly.cost_micros + excluded.cost_micros,
    input_tokens = spend_hourly.input_tokens + excluded.input_tokens,
    output_tokens = spend_hourly.output_tokens + excluded.output_tokens
"""
FULL_FLOOR_TASK = """
INSERT INTO tasks (task_id, status, agent_type, model, version, cost_micros, source,
                   input_message, input_tokens, output_tokens, cache_read_tokens,
                   cache_write_tokens, created_at, started_at, completed_at)
VALUES ($1, $2, $3, $4, $10, $5, 'api', '', $6, 0, 0, 0, $7, $8, $9)
ON CONFLICT (task_id) DO UPDATE SET status = excluded.status, version = excluded.version,
    cost_micros = excluded.cost_micros, input_tokens = excluded.input_tokens,
    started_at = excluded.started_at, completed_at = excluded.completed_at
"""

FLOOR_TASK = """
INSERT INTO tasks (task_id, status, agent_type, version, cost_micros, source, input_message,
                   input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
                   created_at)
VALUES ($1, $2, $3, $4, $5, 'api', '', 0, 0, 0, 0, to_timestamp($6))
ON CONFLICT (task_id) DO UPDATE SET status = excluded.status, version = tasks.version + 1,
    cost_micros = excluded.cost_micros
"""


async def lag(url: str, redis: Redis, rate: int, seconds: float, batch: int) -> dict[str, float]:
    stream = f"bench:ingest:{uuid.uuid4().hex[:8]}"
    prefix = f"l{uuid.uuid4().hex[:6]}-"
    payloads = events(prefix, int(rate * seconds / 3))
    ingestor, adapters = await build(url, stream, batch)
    running = asyncio.create_task(ingestor.run())
    pg = await asyncpg.connect(url.replace("+asyncpg", ""))
    chunk = max(1, rate // 20)
    started = time.perf_counter()
    for n, start in enumerate(range(0, len(payloads), chunk)):
        async with redis.pipeline(transaction=False) as pipe:
            for payload in payloads[start : start + chunk]:
                pipe.xadd(stream, {"event": payload})
            ids = await pipe.execute()
        del ids
        await asyncio.sleep(max(0.0, started + (n + 1) / 20 - time.perf_counter()))
    await wait_marks(pg, prefix, len(payloads))
    entries = await redis.xrange(stream, count=len(payloads) + 10)
    added = {
        json.loads(fields[b"event"])["event_id"]: int(entry_id.split(b"-")[0]) / 1000
        for entry_id, fields in entries
    }
    marks = await pg.fetch(
        "SELECT event_id, extract(epoch FROM processed_at) AS at FROM processed_events"
        " WHERE event_id LIKE $1",
        prefix + "%",
    )
    lags = sorted(float(row["at"]) - added[row["event_id"]] for row in marks)
    running.cancel()
    await asyncio.gather(running, return_exceptions=True)
    await adapters.close()
    await pg.close()
    await redis.delete(stream, stream + ":dead", f"{stream}:lease:dashboard-api")
    return {
        "rate": rate,
        "events": len(lags),
        "lag_p50_ms": round(statistics.median(lags) * 1000, 1),
        "lag_p99_ms": round(lags[int(len(lags) * 0.99) - 1] * 1000, 1),
        "lag_max_ms": round(lags[-1] * 1000, 1),
    }


def conditions() -> dict[str, object]:
    with open("/proc/cpuinfo") as info:
        cpu = [line for line in info.read().splitlines() if "model name" in line]
    return {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cpu": cpu[0].split(":", 1)[1].strip() if cpu else platform.processor(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "load_average": [round(load, 2) for load in os.getloadavg()],
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--rate", type=int, default=2000)
    parser.add_argument("--lag-seconds", type=float, default=10.0)
    args = parser.parse_args()
    name = f"bench_ingest_{uuid.uuid4().hex[:8]}"
    floor_name = name + "_floor"
    for created in (name, floor_name):
        await admin(f'CREATE DATABASE "{created}"')
    url, floor_url = database(name), database(floor_name)
    redis = Redis.from_url(REDIS_URL)
    try:
        upgrade(url)
        upgrade(floor_url)
        results: dict[str, Any] = {"conditions": conditions()}
        prefix = f"d{uuid.uuid4().hex[:6]}-"  # the same events for the ingestor and the floor
        counts: dict[str, dict[str, int]] = {}

        async def ingestor() -> dict[str, float]:
            result = await drain(url, redis, args.tasks, args.batch, prefix=prefix)
            counts["ingestor"] = await row_counts(url)
            return result

        async def full_floor() -> dict[str, float]:
            result = await floor(floor_url, args.tasks, args.batch, prefix)
            counts["floor"] = await row_counts(floor_url)
            return result

        # Each phase is shown as it ends, so a run cut short still leaves its figures.
        for phase, run in (
            ("ingestor", ingestor),
            (
                "ingestor_without_announcements",
                lambda: drain(url, redis, args.tasks, args.batch, silent=True),
            ),
            ("floor", full_floor),
            ("floor_narrow", lambda: narrow_floor(url, args.tasks, args.batch)),
            ("lag", lambda: lag(url, redis, args.rate, args.lag_seconds, args.batch)),
        ):
            results[phase] = await run()
            print(phase, json.dumps(results[phase]), file=sys.stderr, flush=True)
        results["rows"] = counts
        if counts["ingestor"] != counts["floor"]:
            # (Across an hour boundary the two may differ by the rows of the other hour.)
            raise SystemExit(f"the floor did not write the rows the ingestor wrote: {counts}")
        for key, floor_phase in (("floor", "floor"), ("floor_narrow", "floor_narrow")):
            results[f"ingestor_share_of_{key}"] = round(
                results["ingestor"]["events_per_second"]
                / results[floor_phase]["events_per_second"],
                2,
            )
        print(json.dumps(results, indent=2))
    finally:
        await redis.aclose()
        for created in (name, floor_name):
            await admin(f'DROP DATABASE IF EXISTS "{created}" WITH (FORCE)')


if __name__ == "__main__":
    asyncio.run(main())
