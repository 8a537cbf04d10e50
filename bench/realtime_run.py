"""Real-time benchmark: the service's hub beside the floor (a bare Redis-to-socket forwarder),
on the same uvicorn setup, a private redis-server, clients in separate processes.

    .venv/bin/python -m bench.realtime_run [--clients 1000] [--duration 10]

Scenarios, each run on the service and then on the floor:
  memory     RSS growth per idle connection (each subscribed to its own channel)
  per-task   every client on its own task:{i}, 10 events/s each: publish-to-client latency
  steady     one channel, every client on it, 10 broadcasts/s: latency
  burst      one channel, every client on it, as many broadcasts as --burst-rate for 5 s:
             delivered messages per second
The publisher runs the engine's publish steps (XADD to history + PUBLISH) in Redis for both
servers, so both forward identical messages. Results: bench/results/realtime-latest.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from bench import system

HERE = Path(__file__).parent
CLIENT_COMMAND = [sys.executable, "-m", "bench.realtime_clients"]
UVICORN_FLAGS = ["--ws-per-message-deflate", "false", "--log-level", "warning", "--no-access-log"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_redis(port: int) -> subprocess.Popen[bytes]:
    binary = shutil.which("redis-server") or "redis-server"
    redis = subprocess.Popen(
        [binary, "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    time.sleep(0.5)
    return redis


def start_server(kind: str, port: int, redis_url: str, workdir: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "BENCH_REDIS_URL": redis_url, "DASHBOARD_REDIS_URL": redis_url}
    env["DASHBOARD_DATABASE_URL"] = f"sqlite+aiosqlite:///{workdir}/bench.db"
    env["DASHBOARD_LOG_LEVEL"] = "warning"
    env.update(system.RATE_LIMITS_OFF)
    if kind == "service":
        subprocess.run(
            [sys.executable, "-m", "dashboard_api", "db", "upgrade"], env=env, check=True
        )
        target = ["--factory", "dashboard_api.http.app:app_from_env"]
    else:
        target = ["bench.realtime_floor:app"]
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", *target, "--port", str(port), *UVICORN_FLAGS], env=env
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return server
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"{kind} did not start")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


class Clients:
    def __init__(self, url: str, count: int, pattern: str, processes: int) -> None:
        share = count // processes
        self.procs = [
            subprocess.Popen(
                [*CLIENT_COMMAND, url, str(n * share), str(share), pattern],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for n in range(processes)
        ]
        for proc in self.procs:
            assert proc.stdout is not None
            json.loads(proc.stdout.readline())  # {"connected": n}

    def go(self) -> None:
        for proc in self.procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()

    def stop(self) -> dict[str, Any]:
        results = []
        for proc in self.procs:
            out, _ = proc.communicate("", timeout=120)
            results.append(json.loads(out.strip().splitlines()[-1]))
        latencies = sorted(value for result in results for value in result["latencies"])
        return {
            "received": sum(result["received"] for result in results),
            "last": max(result["last"] for result in results),
            "closed": sum(result["closed"] for result in results),
            "latencies": latencies,
        }


# One call publishes a tick's events, each through the same steps as the engine's script
# (XADD to history, PEXPIRE, PUBLISH with the id spliced in): the Python publisher stays cheap,
# so the machine's CPU goes to the servers being measured.
BULK_PUBLISH = """
for i, channel in ipairs(KEYS) do
  local history = 'dashboard:history:' .. channel
  local id = redis.call('XADD', history, 'MAXLEN', 100, '*', 'event', ARGV[1])
  redis.call('PEXPIRE', history, 60000)
  redis.call('PUBLISH', channel, '{"id":"' .. id .. '",' .. string.sub(ARGV[1], 2))
end
return #KEYS
"""


async def publish(redis_url: str, channels: list[str], per_second: float, seconds: float) -> float:
    """Publish to every channel `per_second` times a second for `seconds`; returns the start."""
    redis = Redis.from_url(redis_url)
    script = redis.register_script(BULK_PUBLISH)
    tick = 0.005
    per_tick = len(channels) * per_second * tick
    start = time.monotonic()
    sent = 0
    while (now := time.monotonic()) - start < seconds:
        due = int((now - start) / tick * per_tick) + 1
        batch = [channels[(sent + n) % len(channels)] for n in range(due - sent)]
        if batch:
            event = json.dumps({"type": "task_output", "output": "token ", "t": time.monotonic()})
            await script(keys=batch, args=[event])
            sent = due
        await asyncio.sleep(max(0.0, start + sent / per_tick * tick - time.monotonic()))
    await redis.aclose()
    return start


def summary(result: dict[str, Any]) -> dict[str, Any]:
    latencies = result["latencies"]
    if not latencies:
        return {"received": 0}
    quantiles = statistics.quantiles(latencies, n=100)
    return {
        "received": result["received"],
        "closed_clients": result["closed"],
        "p50_ms": round(quantiles[49] * 1000, 2),
        "p99_ms": round(quantiles[98] * 1000, 2),
        "max_ms": round(latencies[-1] * 1000, 2),
    }


def run_kind(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {}
    redis_port, port = free_port(), free_port()
    redis = start_redis(redis_port)
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    workdir = tempfile.mkdtemp()
    server = start_server(kind, port, redis_url, workdir)
    url = f"ws://127.0.0.1:{port}/ws"
    try:
        one = Clients(url, 1, "task:warmup-{}", 1)  # loads lazily imported code first
        one.stop()
        time.sleep(1)
        before = rss_kib(server.pid)
        clients = Clients(url, args.clients, "task:bench-{}", args.client_processes)
        time.sleep(2)
        results["memory_kib_per_connection"] = round(
            (rss_kib(server.pid) - before) / args.clients, 1
        )
        channels = [f"task:bench-{n}" for n in range(args.clients)]
        clients.go()
        asyncio.run(publish(redis_url, channels, 10, args.duration))
        time.sleep(1)
        results["per_task"] = summary(clients.stop())
        print(kind, "per-task", results["per_task"], flush=True)
        if args.per_task_only:
            return results

        clients = Clients(url, args.clients, "task:broadcast", args.client_processes)
        clients.go()
        asyncio.run(publish(redis_url, ["task:broadcast"], 10, args.duration))
        time.sleep(1)
        results["steady"] = summary(clients.stop())
        print(kind, "steady", results["steady"], flush=True)

        clients = Clients(url, args.clients, "task:broadcast", args.client_processes)
        clients.go()
        start = asyncio.run(publish(redis_url, ["task:broadcast"], args.burst_rate, 5))
        time.sleep(10)
        burst = clients.stop()
        elapsed = burst["last"] - start
        results["burst"] = {
            **summary(burst),
            "offered_per_second": args.burst_rate * args.clients,
            "delivered_per_second": round(burst["received"] / elapsed) if elapsed > 0 else 0,
        }
        print(kind, "burst", results["burst"], flush=True)
    finally:
        server.terminate()
        server.wait()
        redis.terminate()
        redis.wait()
        shutil.rmtree(workdir, ignore_errors=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--burst-rate", type=float, default=150, help="broadcasts per second")
    parser.add_argument("--kinds", nargs="+", default=["service", "floor"])
    parser.add_argument("--per-task-only", action="store_true")
    args = parser.parse_args()
    report = {
        "conditions": {
            "clients": args.clients,
            "client_processes": args.client_processes,
            "duration_s": args.duration,
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "server": "uvicorn 1 worker, websockets-sansio, per-message deflate off",
        },
        **{kind: run_kind(kind, args) for kind in args.kinds},
    }
    out = HERE / "results" / "realtime-latest.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
