"""Soak (issue 9 item 7): a mixed load held for minutes, with one Redis outage in the middle.

    .venv/bin/python -m bench.soak [--minutes 10] [--clients 1000] [--rest-rate 20]
        [--output-rate 100] [--task-rate 2] [--outage-seconds 5]

Every load generator is a process of its own, so none queues behind another or behind this
one (run 1 had the engine and the REST client in one event loop, and measured that loop):

- the server (`dashboard-api run`, one worker, rate limits off: every client is one address)
  on a PostgreSQL database of its own and a private `redis-server` without persistence;
- `--clients` WebSocket clients in 2 processes (`bench.soak_clients`), each on `tasks` and on
  one of `--streams` task channels;
- the engine (`bench.soak_engine`): output events on those channels at `--output-rate`, and
  `--task-rate` tasks a second on the durable ingest stream (created, started, completed);
- REST (`bench.soak_rest`): open loop at `--rest-rate`, at most `--rest-in-flight` requests
  at once, latency counted from each request's intended send time;
- half-way, Redis is stopped, left down `--outage-seconds`, and started again **empty**.

This process only watches: every 30 s the server's RSS and CPU, every harness process's CPU
and the load average; every second `/ready`; the outage window (Redis stopped .. answering
again), and just before it the ingest group's read position, so that a lifecycle event lost
with Redis's data (taken by Redis, not yet read by the API) is told apart from one the API
lost. At the end: every output event sent against what each client received (lost, lost
without a `recovered: false` notice, duplicated, out of order); every lifecycle event sent
against `processed_events` and the `tasks` rows (lost, not completed, wrong cost) and the
rollups (doubled); REST codes (503s inside / outside the outage window) and p50/p99 per minute.
Results: bench/results/soak-latest.json (the server's log beside it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from redis.asyncio import Redis

from bench.realtime_run import free_port, rss_kib
from bench.system import RATE_LIMITS_OFF, conditions, group_cpu_seconds, pid_cpu_seconds

HERE = Path(__file__).parent
RESULTS = HERE / "results"
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
STREAM, GROUP = "dashboard:ingest", "dashboard-api"
COST_MICROS = 10_000  # bench.soak_engine's 0.01 USD per task


def start_redis(port: int) -> subprocess.Popen[bytes]:
    binary = shutil.which("redis-server") or "redis-server"
    return subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )


async def wait_redis(url: str) -> None:
    redis = Redis.from_url(url)
    try:
        for _ in range(200):
            try:
                await redis.ping()
                return
            except OSError:
                await asyncio.sleep(0.05)
            except Exception:  # redis-py wraps a refused connection in its own error
                await asyncio.sleep(0.05)
        raise TimeoutError("redis-server did not start")
    finally:
        await redis.aclose()


def start_server(port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [sys.executable, "-m", "dashboard_api", "run", "--port", str(port)],
        env={**os.environ, **RATE_LIMITS_OFF, **env, "DASHBOARD_LOG_LEVEL": "warning"},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: RSS and CPU are the server's alone
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise TimeoutError("the server did not become ready")


class Helper:
    """A load generator in its own process: prints a line when ready, starts on a line from
    stdin, prints its results as one JSON line when done."""

    def __init__(self, *command: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", *command], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        assert self.process.stdout is not None
        json.loads(self.process.stdout.readline())

    def go(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(b"go\n")
        self.process.stdin.flush()

    async def result(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = await asyncio.get_running_loop().run_in_executor(None, self.process.stdout.readline)
        self.process.wait(timeout=30)
        answer: dict[str, Any] = json.loads(line)
        return answer


class ClientProcesses:
    def __init__(self, url: str, count: int, streams: int, processes: int = 2) -> None:
        share = count // processes
        command = [sys.executable, "-m", "bench.soak_clients", url]
        self.processes = [
            subprocess.Popen(
                [*command, str(n * share), str(share), str(streams)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
            )
            for n in range(processes)
        ]
        for process in self.processes:
            assert process.stdout is not None
            json.loads(process.stdout.readline())  # {"connected": n}

    def stop(self) -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = []
        for process in self.processes:
            out, _ = process.communicate(b"", timeout=120)
            results += json.loads(out)
        return results


class Watch:
    """What this process samples while the load runs."""

    def __init__(self, server: subprocess.Popen[bytes], port: int, t0: float) -> None:
        self.server = server
        self.port = port
        self.t0 = t0
        self.samples: list[dict[str, Any]] = []
        self.ready: list[tuple[float, str]] = []  # (seconds, code) at every change
        self.harness: dict[str, int] = {}  # name -> pid
        self.outage: dict[str, Any] = {}
        self.top: list[list[Any]] = []  # `top` every 2 minutes: what else the machine ran

    def sample(self) -> None:
        pgid = self.server.pid
        if not self.samples or len(self.samples) % 4 == 0:  # every 2 minutes: what else ran
            top = subprocess.run(
                ["top", "-b", "-n", "1", "-w", "120"], capture_output=True, text=True, check=False
            ).stdout.splitlines()
            self.top.append([round(time.time() - self.t0, 1), *top[:17]])
        self.samples.append(
            {
                "second": round(time.time() - self.t0, 1),
                "server_rss_kib": rss_kib(pgid),
                "server_cpu_seconds": round(group_cpu_seconds(pgid), 2),
                "harness_cpu_seconds": {
                    name: round(pid_cpu_seconds(pid), 2) for name, pid in self.harness.items()
                },
                "load_average_1m": os.getloadavg()[0],
            }
        )

    async def sampling(self, seconds: float, every: float = 30.0) -> None:
        self.sample()
        while time.time() - self.t0 < seconds:
            await asyncio.sleep(min(every, max(0.0, seconds - (time.time() - self.t0))))
            self.sample()

    async def readiness(self, seconds: float) -> None:
        last = None
        async with httpx.AsyncClient(timeout=5) as http:
            while time.time() - self.t0 < seconds:
                try:
                    code = str((await http.get(f"http://127.0.0.1:{self.port}/ready")).status_code)
                except httpx.HTTPError as exc:
                    code = type(exc).__name__
                if code != last:
                    self.ready.append((round(time.time() - self.t0, 2), code))
                    last = code
                await asyncio.sleep(1.0)

    async def redis_outage(
        self, redis: list[subprocess.Popen[bytes]], port: int, after: float, down: float
    ) -> None:
        await asyncio.sleep(max(0.0, self.t0 + after - time.time()))
        url = f"redis://127.0.0.1:{port}/0"
        # Where the API had read to: an entry after this (or still pending) was in Redis only.
        client = Redis.from_url(url, decode_responses=True)
        try:
            groups = await client.xinfo_groups(STREAM)
            group = next((g for g in groups if g["name"] == GROUP), {})
            pending = await client.xpending_range(STREAM, GROUP, "-", "+", 100_000)
        finally:
            await client.aclose()
        self.outage["last_delivered_id"] = group.get("last-delivered-id", "0-0")
        self.outage["pending_ids"] = [entry["message_id"] for entry in pending]
        self.outage["stopped"] = time.time()
        redis[0].terminate()
        redis[0].wait()
        self.outage["gone"] = time.time()
        print(f"Redis stopped at {self.outage['stopped'] - self.t0:.1f}s", file=sys.stderr)
        await asyncio.sleep(down)
        redis[0] = start_redis(port)
        await wait_redis(url)
        self.outage["back"] = time.time()
        print(f"Redis back (empty) at {self.outage['back'] - self.t0:.1f}s", file=sys.stderr)


def unpublished_changes(log: Path) -> int:
    """Task changes committed whose `task_status` the bus refused (logged by the service:
    `task …: status event not published`, `N status events of a batch not published`, two
    events per change)."""
    changes = 0
    for line in log.read_text(errors="replace").splitlines():
        if ": status event not published" in line:
            changes += 1
        elif "status events of a batch not published" in line:
            changes += int(line.split("status events")[0].split()[-1]) // 2
    return changes


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def entry_key(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


async def create_database() -> str:
    name = f"soak_{uuid.uuid4().hex[:8]}"
    connection = await asyncpg.connect(ADMIN_URL, timeout=5)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return name


async def drop_database(name: str) -> None:
    connection = await asyncpg.connect(ADMIN_URL, timeout=5)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


async def applied_marks(dsn: str) -> set[str]:
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            "SELECT event_id FROM processed_events WHERE event_id LIKE 'soak-life-%'"
        )
    finally:
        await connection.close()
    return {row["event_id"] for row in rows}


async def wait_applied(dsn: str, expected: set[str], patience: float = 60.0) -> float:
    """Seconds until every accepted lifecycle event is applied (or patience runs out)."""
    start = time.time()
    while time.time() - start < patience:
        if expected <= await applied_marks(dsn):
            break
        await asyncio.sleep(1.0)
    return round(time.time() - start, 1)


async def database_state(dsn: str) -> dict[str, Any]:
    connection = await asyncpg.connect(dsn)
    try:
        async with connection.transaction(isolation="repeatable_read", readonly=True):
            marks = await connection.fetch(
                "SELECT event_id FROM processed_events WHERE event_id LIKE 'soak-life-%'"
            )
            tasks = await connection.fetch(
                "SELECT task_id, status, cost_micros FROM tasks WHERE agent_type = 'soak-engine'"
            )
            # Compacted rows plus the deltas not yet folded, read in one snapshot (compaction
            # moves deltas into rollups_hourly in one transaction).
            rollups = await connection.fetchrow(
                """
                SELECT coalesce(sum(tasks), 0)::bigint AS tasks,
                       coalesce(sum(completed), 0)::bigint AS completed,
                       coalesce(sum(cost_micros), 0)::bigint AS cost_micros
                FROM (
                    SELECT tasks, completed, cost_micros FROM rollups_hourly
                    WHERE agent_type = 'soak-engine'
                    UNION ALL
                    SELECT tasks, completed, cost_micros FROM rollup_deltas
                    WHERE agent_type = 'soak-engine'
                ) AS figures
                """
            )
            rest_tasks = await connection.fetchval(
                "SELECT count(*) FROM tasks WHERE agent_type = 'soak-rest'"
            )
    finally:
        await connection.close()
    return {
        "marks": {row["event_id"] for row in marks},
        "tasks": {row["task_id"]: (row["status"], row["cost_micros"]) for row in tasks},
        "rollups": dict(rollups) if rollups is not None else {},
        "rest_tasks": rest_tasks,
    }


def lifecycle_report(
    events: list[dict[str, Any]], state: dict[str, Any], outage: dict[str, Any]
) -> dict[str, Any]:
    accepted = [event for event in events if event["accepted"] is not None]
    marks: set[str] = state["marks"]
    delivered_up_to = entry_key(outage.get("last_delivered_id", "0-0"))
    pending = set(outage.get("pending_ids", []))
    gone = outage.get("gone", float("inf"))
    # An event id not applied is explained only if every copy Redis took was in Redis alone
    # when it lost its data.
    copies_at_risk: dict[str, bool] = {}
    for event in accepted:
        if event["event_id"] in marks:
            continue
        in_redis_only = event["accepted"] < gone and (
            entry_key(event["entry_id"]) > delivered_up_to or event["entry_id"] in pending
        )
        copies_at_risk[event["event_id"]] = copies_at_risk.get(event["event_id"], True) and (
            in_redis_only
        )
    lost_with_redis = [event_id for event_id, risk in copies_at_risk.items() if risk]
    lost_unexplained = [event_id for event_id, risk in copies_at_risk.items() if not risk]
    complete = {
        event["task_id"]
        for event in accepted
        if event["type"] == "task.completed" and event["event_id"] in marks
    }
    created = {
        event["task_id"]
        for event in accepted
        if event["type"] == "task.created" and event["event_id"] in marks
    }
    rows: dict[str, tuple[str, int]] = state["tasks"]
    statuses: dict[str, int] = {}
    for task_id in {event["task_id"] for event in accepted}:
        status = rows[task_id][0] if task_id in rows else "missing"
        statuses[status] = statuses.get(status, 0) + 1
    wrong_cost = sum(
        1 for task_id in complete if task_id in rows and rows[task_id][1] != COST_MICROS
    )
    rollups = state["rollups"]
    return {
        "events_sent": len(events),
        "distinct_event_ids": len({event["event_id"] for event in events}),
        "sent_twice_on_purpose": len(events) - len({event["event_id"] for event in events}),
        "events_accepted_by_redis": len(accepted),
        "events_never_accepted": len(events) - len(accepted),
        "events_retried": sum(1 for event in events if event["attempts"] > 1),
        "event_ids_applied": len({event["event_id"] for event in accepted} & marks),
        "events_lost_unexplained": len(lost_unexplained),
        "events_lost_with_redis_data": len(lost_with_redis),
        "lost_event_ids": (lost_unexplained + lost_with_redis)[:50],
        "task_rows_by_status": statuses,
        "completed_tasks_with_wrong_cost": wrong_cost,
        "rollups": {
            "tasks": rollups.get("tasks"),
            "tasks_expected": len(created),
            "completed": rollups.get("completed"),
            "completed_expected": len(complete),
            "cost_micros": rollups.get("cost_micros"),
            "cost_micros_expected": len(complete) * COST_MICROS,
        },
        "doubled": (rollups.get("tasks", 0) - len(created))
        + (rollups.get("completed", 0) - len(complete)),
    }


def output_report(
    engine: dict[str, Any], received: list[dict[str, Any]], statuses_published: int
) -> dict[str, Any]:
    sent: list[int] = engine["output_sent"]
    refused: list[list[int]] = engine["output_refused"]
    expected_per_stream = [set(range(sent[k])) - set(refused[k]) for k in range(len(sent))]
    lost = silent = told = closed = disorder = duplicates = extra = 0
    for client in received:
        expected = expected_per_stream[client["stream"]]
        outputs: list[int] = client["outputs"]
        got = set(outputs)
        missing = len(expected - got)
        extra += len(got - expected)
        lost += missing
        duplicates += len(outputs) - len(got)
        disorder += outputs != sorted(outputs)
        not_recovered = any(recovered is False for recovered in client["notices"])
        told += not_recovered
        closed += bool(client["closed"])
        if missing and not not_recovered and not client["closed"]:
            silent += missing
    most_statuses = max((client["statuses"] for client in received), default=0)
    return {
        "clients": len(received),
        "output_events_sent": sum(sent),
        "output_events_refused_by_outage": sum(len(numbers) for numbers in refused),
        "deliveries_expected": sum(len(expected_per_stream[c["stream"]]) for c in received),
        "lost": lost,
        "lost_silently": silent,
        "duplicates": duplicates,
        "clients_out_of_order": disorder,
        "refused_yet_delivered": extra,
        "clients_told_not_recovered": told,
        "clients_closed": closed,
        "close_codes": sorted({str(c["close_code"]) for c in received if c["closed"]}),
        "task_status_frames_short_of_the_most": sum(
            most_statuses - client["statuses"] for client in received
        ),
        "task_status_frames_most": most_statuses,
        "task_status_frames_published": statuses_published,
        "clients_short_of_published": sum(
            client["statuses"] < statuses_published for client in received
        ),
        "clients_short_of_published_not_told": sum(
            client["statuses"] < statuses_published
            and not any(recovered is False for recovered in client["notices"])
            for client in received
        ),
        "engine_output_late_ms": {
            key: engine[f"output_late_ms_{key}"] for key in ("p50", "p99", "max")
        },
    }


def rest_report(rest: dict[str, Any], t0: float, outage: dict[str, Any]) -> dict[str, Any]:
    records: list[list[Any]] = rest["records"]
    codes: dict[str, dict[str, int]] = {}
    by_minute: dict[int, list[float]] = {}
    writes_by_minute: dict[int, list[float]] = {}
    calm_by_minute: dict[int, list[float]] = {}  # not in flight while Redis was down
    stopped, back = outage.get("stopped", 0.0), outage.get("back", 0.0)
    inside: list[float] = []
    outside: list[float] = []
    other_errors: list[tuple[float, str, str]] = []
    for intended, kind, code, latency_ms, _queued in records:
        codes.setdefault(kind, {})
        codes[kind][code] = codes[kind].get(code, 0) + 1
        minute = int((intended - t0) // 60)
        by_minute.setdefault(minute, []).append(latency_ms)
        if not (intended <= back and intended + latency_ms / 1000 >= stopped):
            calm_by_minute.setdefault(minute, []).append(latency_ms)
        if kind in ("create", "patch"):
            writes_by_minute.setdefault(minute, []).append(latency_ms)
        answered = intended + latency_ms / 1000
        if code == "503":
            # In flight at some moment while Redis was down.
            (inside if intended <= back and answered >= stopped else outside).append(
                round(intended - back, 2)
            )
        elif not code.startswith("2"):
            other_errors.append((round(intended - t0, 2), kind, code))
    return {
        "requests": len(records),
        "codes_by_kind": codes,
        "503_in_flight_during_outage": len(inside),
        "503_outside_outage": len(outside),
        "503_outside_seconds_after_redis_back": sorted(outside)[:20],
        "other_errors": other_errors[:50],
        "other_errors_count": len(other_errors),
        "by_minute": {
            minute: {
                "requests": len(values),
                "p50_ms": round(percentile(values, 0.5), 1),
                "p99_ms": round(percentile(values, 0.99), 1),
                "max_ms": round(max(values), 1),
                "writes_p99_ms": round(percentile(writes_by_minute.get(minute, []), 0.99), 1),
                "p99_ms_outside_outage": round(percentile(calm_by_minute.get(minute, []), 0.99), 1),
            }
            for minute, values in sorted(by_minute.items())
        },
        "p50_ms": round(percentile([r[3] for r in records], 0.5), 1),
        "p99_ms": round(percentile([r[3] for r in records], 0.99), 1),
        "queued_for_a_slot_ms_max": max((r[4] for r in records), default=0.0),
        "client_cpu_seconds": rest["cpu_seconds"],
        "client_scheduler_late_ms_p99": rest["scheduler_late_ms_p99"],
        "client_scheduler_late_ms_max": rest["scheduler_late_ms_max"],
    }


async def soak(args: argparse.Namespace) -> dict[str, Any]:
    RESULTS.mkdir(exist_ok=True)
    before = conditions()
    redis_port, port = free_port(), free_port()
    redis = [start_redis(redis_port)]
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    await wait_redis(redis_url)
    database = await create_database()
    dsn = f"postgresql://postgres@127.0.0.1:5432/{database}"
    env = {
        "DASHBOARD_REDIS_URL": redis_url,
        "DASHBOARD_DATABASE_URL": f"postgresql+asyncpg://postgres@127.0.0.1:5432/{database}",
    }
    log = RESULTS / "soak-server-latest.log"
    server = start_server(port, env, log)
    seconds = args.minutes * 60
    helpers: list[subprocess.Popen[bytes]] = []
    try:
        clients = ClientProcesses(f"ws://127.0.0.1:{port}/ws", args.clients, args.streams)
        helpers += clients.processes
        engine = Helper(
            "bench.soak_engine",
            redis_url,
            str(args.streams),
            str(args.output_rate),
            str(args.task_rate),
            str(seconds),
        )
        rest = Helper(
            "bench.soak_rest",
            f"http://127.0.0.1:{port}",
            str(args.rest_rate),
            str(seconds),
            str(args.rest_in_flight),
        )
        helpers += [engine.process, rest.process]
        t0 = time.time()
        watch = Watch(server, port, t0)
        watch.harness = {
            **{f"ws_clients_{n}": p.pid for n, p in enumerate(clients.processes)},
            "engine": engine.process.pid,
            "rest": rest.process.pid,
            "this": os.getpid(),
        }
        engine.go()
        rest.go()
        engine_result, rest_result, *_ = await asyncio.gather(
            engine.result(),
            rest.result(),
            watch.sampling(seconds),
            watch.readiness(seconds),
            watch.redis_outage(redis, redis_port, seconds / 2, args.outage_seconds),
        )
        load_end = os.getloadavg()
        accepted = {e["event_id"] for e in engine_result["lifecycle"] if e["accepted"] is not None}
        drained_after = await wait_applied(dsn, accepted)
        await asyncio.sleep(3)  # the last output events on their way to the clients
        received = clients.stop()
        async with httpx.AsyncClient() as http:
            metrics = (await http.get(f"http://127.0.0.1:{port}/metrics", timeout=10)).text
            status = (await http.get(f"http://127.0.0.1:{port}/api/status", timeout=10)).json()
        state = await database_state(dsn)
        bus = Redis.from_url(redis_url)
        dead_letters = await bus.xlen("dashboard:ingest:rejected")
        await bus.aclose()
        watch.sample()
    finally:
        for process in helpers:
            if process.poll() is None:
                process.kill()
        server.terminate()
        server.wait(timeout=30)
        redis[0].terminate()
        redis[0].wait()
        if not args.keep_database:
            await drop_database(database)
    outage = watch.outage
    elapsed = time.time() - t0
    rest_answers: dict[str, dict[str, int]] = {}
    for _intended, kind, code, _latency, _queued in rest_result["records"]:
        rest_answers.setdefault(kind, {}).setdefault(code, 0)
        rest_answers[kind][code] += 1
    unpublished = unpublished_changes(log)
    # Every committed change is announced once on `tasks`: each lifecycle event applied, each
    # registration (201) and status change (200) over REST, less those the bus refused.
    statuses_published = (
        len({e["event_id"] for e in engine_result["lifecycle"]} & state["marks"])
        + rest_answers.get("create", {}).get("201", 0)
        + rest_answers.get("patch", {}).get("200", 0)
        - unpublished
    )
    harness_cpu: dict[str, float] = {}
    for sample in watch.samples:
        for name, value in sample["harness_cpu_seconds"].items():
            harness_cpu[name] = max(harness_cpu.get(name, 0.0), value)
    server_cpu = [s["server_cpu_seconds"] for s in watch.samples]
    return {
        "conditions": before,
        "load_average_end": load_end,
        "arguments": vars(args),
        "elapsed_seconds": round(elapsed, 1),
        "outage": {
            "stopped_at_second": round(outage["stopped"] - t0, 2),
            "gone_at_second": round(outage["gone"] - t0, 2),
            "back_at_second": round(outage["back"] - t0, 2),
            "ingest_last_delivered_id_before": outage["last_delivered_id"],
            "ingest_pending_before": len(outage["pending_ids"]),
        },
        "ready_changes": watch.ready,
        "top_every_2_minutes": watch.top,
        "output": output_report(engine_result, received, statuses_published),
        "lifecycle": {
            **lifecycle_report(engine_result["lifecycle"], state, outage),
            "drained_seconds_after_load": drained_after,
            "dead_letters_after_restart": dead_letters,
        },
        "rest": {**rest_report(rest_result, t0, outage), "soak_rest_tasks": state["rest_tasks"]},
        "dropped_slow_clients": status.get("realtime", {}).get("dropped_slow_clients"),
        "samples_every_30s": watch.samples,
        "server_cpu_share_of_one_core": round(
            (server_cpu[-1] - server_cpu[0]) / max(1.0, elapsed), 3
        ),
        "harness_cpu_share_of_one_core": {
            name: round(value / max(1.0, elapsed), 3) for name, value in harness_cpu.items()
        },
        "task_changes_not_announced_in_outage": unpublished,
        "metrics_ingest": [
            line for line in metrics.splitlines() if "ingest" in line and not line.startswith("#")
        ],
        "server_log_lines": sum(1 for _ in log.open("rb")),
        "rest_records": {
            "t0": t0,
            "columns": ["intended", "kind", "code", "latency_ms", "queued_ms"],
            "records": rest_result["records"],
            "scheduler_stalls_over_50ms": rest_result["scheduler_stalls_over_50ms"],
        },
    }


def markdown(result: dict[str, Any]) -> str:
    """The per-minute and per-30-s tables of a result, for docs/benchmarks-realtime.md."""
    lines = [
        "| minute | requests | p50 ms | p99 ms | p99 ms, outage aside | writes p99 ms | max ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for minute, row in result["rest"]["by_minute"].items():
        lines.append(
            f"| {minute} | {row['requests']} | {row['p50_ms']} | {row['p99_ms']} "
            f"| {row['p99_ms_outside_outage']} | {row['writes_p99_ms']} | {row['max_ms']} |"
        )
    lines += [
        "",
        "| second | server RSS MB | server CPU (share of a core, last 30 s) | load average 1 min |",
        "|---|---|---|---|",
    ]
    previous = None
    for sample in result["samples_every_30s"]:
        share = ""
        if previous is not None and sample["second"] > previous["second"]:
            spent = sample["server_cpu_seconds"] - previous["server_cpu_seconds"]
            share = f"{spent / (sample['second'] - previous['second']):.2f}"
        lines.append(
            f"| {sample['second']:.0f} | {sample['server_rss_kib'] / 1024:.1f} | {share} "
            f"| {sample['load_average_1m']:.1f} |"
        )
        previous = sample
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--streams", type=int, default=50)
    parser.add_argument("--output-rate", type=float, default=100.0, help="output events/s")
    parser.add_argument("--task-rate", type=float, default=2.0, help="engine tasks/s (3 events)")
    parser.add_argument("--rest-rate", type=float, default=20.0, help="REST requests/s")
    parser.add_argument("--rest-in-flight", type=int, default=64)
    parser.add_argument("--outage-seconds", type=float, default=5.0)
    parser.add_argument("--keep-database", action="store_true")
    parser.add_argument(
        "--report", action="store_true", help="print the tables of the last results and stop"
    )
    args = parser.parse_args()
    if args.report:
        print(markdown(json.loads((RESULTS / "soak-latest.json").read_text())))
        return
    result = asyncio.run(soak(args))
    raw = result.pop("rest_records")
    (RESULTS / "soak-rest-latest.json").write_text(json.dumps(raw))
    out = RESULTS / "soak-latest.json"
    out.write_text(json.dumps(result, indent=2))
    summary = {key: value for key, value in result.items() if key != "samples_every_30s"}
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
