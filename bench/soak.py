"""Soak (issue 9 item 7): a mixed load held for minutes, with one Redis restart in the middle.

    .venv/bin/python -m bench.soak [--minutes 10] [--clients 1000] [--database-url URL]

- the real server process (`dashboard-api run`, one worker) on PostgreSQL (a database of its
  own; SQLite when no PostgreSQL is reachable) and a private `redis-server` without
  persistence, restarted empty half-way through;
- `--clients` WebSocket clients in 2 processes (`bench.soak_clients`), each on `tasks` and on
  one of `--streams` task channels an engine streams output to (`EnginePublisher.output`);
- REST: list reads, summary reads, task registrations and status changes, at `--rest-rate`;
- lifecycle events on the durable ingest stream (`EnginePublisher.lifecycle`).

Counted: every output event the engine published against every one each client received
(lost = missing for a client; silent = missing for a client that was never told
`recovered: false`), `task_status` frames per client against the most any client got, REST
status codes (errors other than 503 during the outage), REST p99 and server RSS per minute.
Results: bench/results/soak-latest.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

from bench.realtime_run import free_port, rss_kib

HERE = Path(__file__).parent
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def start_redis(port: int) -> subprocess.Popen[bytes]:
    binary = shutil.which("redis-server") or "redis-server"
    redis = subprocess.Popen(
        [binary, "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    time.sleep(0.5)
    return redis


async def create_database() -> str | None:
    try:
        import asyncpg
    except ImportError:
        return None
    name = f"dashboard_soak_{uuid.uuid4().hex[:8]}"
    try:
        connection = await asyncpg.connect(ADMIN_URL, timeout=5)
    except (OSError, asyncpg.PostgresError):
        return None
    await connection.execute(f'CREATE DATABASE "{name}"')
    await connection.close()
    return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"


def start_server(port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [sys.executable, "-m", "dashboard_api", "run", "--port", str(port)],
        env={**os.environ, **env, "DASHBOARD_LOG_LEVEL": "warning"},
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


class Rest:
    """REST load at a steady rate: what each request answered and how long it took, by minute."""

    def __init__(self, base: str) -> None:
        self.http = httpx.AsyncClient(base_url=base, timeout=10)
        self.codes: dict[str, int] = {}
        self.latencies: dict[int, list[float]] = {}
        self.outage_503 = 0
        self.started = time.monotonic()

    async def one(self, kind: int) -> None:
        begin = time.monotonic()
        try:
            if kind % 4 == 0:
                response = await self.http.post("/api/tasks", json={"agent_type": "soak"})
                if response.status_code == 201:
                    task_id = response.json()["task_id"]
                    await self.http.patch(f"/api/tasks/{task_id}", json={"status": "running"})
            elif kind % 4 == 1:
                response = await self.http.get("/api/analytics/summary")
            else:
                response = await self.http.get("/api/tasks", params={"limit": 50})
            code = str(response.status_code)
        except httpx.HTTPError as exc:
            code = type(exc).__name__
        self.codes[code] = self.codes.get(code, 0) + 1
        minute = int((begin - self.started) // 60)
        self.latencies.setdefault(minute, []).append(time.monotonic() - begin)

    async def run(self, rate: float, seconds: float) -> None:
        pending: set[asyncio.Task[None]] = set()
        n = 0
        async for _ in apaced(rate, seconds):
            task = asyncio.create_task(self.one(n))
            pending.add(task)
            task.add_done_callback(pending.discard)
            n += 1
        await asyncio.gather(*pending)
        await self.http.aclose()


async def apaced(rate: float, seconds: float) -> AsyncIterator[None]:
    """Ticks at `rate` per second for `seconds` of wall time: a slow tick is not made up by
    stretching the run (on a loaded machine the offered load is then a little lower)."""
    start = time.monotonic()
    tick = 0
    while (now := time.monotonic()) - start < seconds:
        tick += 1
        await asyncio.sleep(max(0.0, start + tick / rate - now))
        yield


async def stream(redis_url: str, streams: int, rate: float, seconds: float) -> list[int]:
    """Output events at `rate` per second over `streams` task channels; returns how many each
    channel got (a publish the outage refused after its retries is not counted)."""
    from dashboard_api.engine import EnginePublisher

    engine = EnginePublisher.from_url(redis_url)
    published = [0] * streams
    lifecycle = 0
    try:
        n = -1
        async for _ in apaced(rate, seconds):
            n += 1
            channel = n % streams
            try:
                await engine.output(f"soak-{channel}", str(published[channel]))
                published[channel] += 1
            except Exception as exc:  # the Redis outage outlasted the client's retries
                print(f"publish refused: {exc!r}", file=sys.stderr)
            if n % 50 == 0:
                task_id = f"soak-life-{lifecycle}"
                lifecycle += 1
                try:
                    await engine.lifecycle("task.created", task_id, agent_type="engine")
                    await engine.lifecycle("task.completed", task_id, cost_usd="0.01")
                except Exception as exc:
                    print(f"lifecycle refused: {exc!r}", file=sys.stderr)
    finally:
        await engine.close()
    return published


async def sample_rss(pid: int, seconds: float, every: float = 30.0) -> list[int]:
    samples = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        samples.append(rss_kib(pid))
        await asyncio.sleep(every)
    return samples


async def restart_redis_later(
    redis: list[subprocess.Popen[bytes]], port: int, after: float
) -> None:
    await asyncio.sleep(after)
    print(f"restarting Redis (no persistence) at {after:.0f}s", file=sys.stderr)
    redis[0].terminate()
    redis[0].wait()
    redis[0] = start_redis(port)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


async def soak(args: argparse.Namespace) -> dict[str, Any]:
    redis_port, port = free_port(), free_port()
    redis = [start_redis(redis_port)]
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    database_url = args.database_url or await create_database()
    workdir = tempfile.mkdtemp()
    env = {
        "DASHBOARD_REDIS_URL": redis_url,
        "DASHBOARD_DATABASE_URL": database_url or f"sqlite+aiosqlite:///{workdir}/soak.db",
    }
    server = start_server(port, env)
    seconds = args.minutes * 60
    try:
        clients = ClientProcesses(f"ws://127.0.0.1:{port}/ws", args.clients, args.streams)
        rest = Rest(f"http://127.0.0.1:{port}")
        started = time.monotonic()
        published, _, rss, _ = await asyncio.gather(
            stream(redis_url, args.streams, args.output_rate, seconds),
            rest.run(args.rest_rate, seconds),
            sample_rss(server.pid, seconds),
            restart_redis_later(redis, redis_port, seconds / 2),
        )
        await asyncio.sleep(5)  # the last events on their way
        async with httpx.AsyncClient() as http:
            status = (await http.get(f"http://127.0.0.1:{port}/api/status", timeout=10)).json()
        received = clients.stop()
        elapsed = time.monotonic() - started
    finally:
        server.terminate()
        server.wait(timeout=30)
        redis[0].terminate()
    most_statuses = max(client["statuses"] for client in received)
    lost = silent = told = closed = 0
    for client in received:
        expected = published[client["stream"]]
        outputs = client["outputs"]
        missing = expected - len(set(outputs))
        lost += max(missing, 0)
        not_recovered = any(recovered is False for recovered in client["notices"])
        told += not_recovered
        closed += bool(client["closed"])
        if missing > 0 and not not_recovered and not client["closed"]:
            silent += missing
    return {
        "minutes": args.minutes,
        "elapsed_seconds": round(elapsed, 1),
        "database": "postgresql" if database_url else "sqlite",
        "clients": len(received),
        "output_events_published": sum(published),
        "deliveries_expected": sum(published[client["stream"]] for client in received),
        "output_events_lost": lost,
        "output_events_lost_silently": silent,
        "duplicates_or_disorder": sum(
            client["outputs"] != sorted(set(client["outputs"])) for client in received
        ),
        "clients_told_not_recovered": told,
        "clients_closed": closed,
        "close_codes": sorted(
            {str(client["close_code"]) for client in received if client["closed"]}
        ),
        "close_after_seconds": sorted(
            {round(client["close_at"] - started) for client in received if client["closed"]}
        )[:10],
        "dropped_slow_clients": status["realtime"]["dropped_slow_clients"],
        "task_status_frames_short_of_the_most": sum(
            most_statuses - client["statuses"] for client in received
        ),
        "rest_codes": rest.codes,
        "rest_p99_ms_by_minute": {
            minute: round(percentile(values, 0.99) * 1000, 1)
            for minute, values in sorted(rest.latencies.items())
        },
        "rest_p50_ms": round(
            statistics.median([v for vs in rest.latencies.values() for v in vs]) * 1000, 1
        ),
        "server_rss_kib_every_30s": rss,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--streams", type=int, default=50)
    parser.add_argument("--output-rate", type=float, default=100.0, help="output events/s")
    parser.add_argument("--rest-rate", type=float, default=20.0, help="REST requests/s")
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    result = asyncio.run(soak(args))
    out = HERE / "results" / "soak-latest.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
