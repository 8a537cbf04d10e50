"""Real-time benchmark: the service's hub beside the floor (a bare Redis-to-socket forwarder),
under uvicorn and/or granian, each contender with its own private redis-server on 127.0.0.1,
clients in separate processes.

    .venv/bin/python -m bench.realtime_run [--clients 1000] [--duration 5] [--rounds 3]
        [--kinds service floor] [--servers uvicorn granian]

Every contender (kind x server, one worker each) is started at once. Memory is measured first,
on each fresh process; then per scenario, runs alternate between the contenders, --rounds times,
the order rotating by one each round. Scenarios:
  memory     RSS growth of the server's processes per idle connection (each subscribed to its
             own channel)
  per-task   every client on its own task:{i}, 10 events/s each: publish-to-client latency
  steady     one channel, every client on it, 10 broadcasts/s: latency
  burst      one channel, every client on it, as many broadcasts as --burst-rate for 5 s:
             delivered messages per second
Each run also records the server's CPU per delivered frame. The publisher runs the engine's
publish steps (XADD to history + PUBLISH) in Redis for every contender, so all forward identical
messages. Results (medians and min-max): bench/results/realtime-latest.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from bench import harness, system

HERE = Path(__file__).parent
CLIENT_COMMAND = [sys.executable, "-m", "bench.realtime_clients"]
SCENARIOS = ("per-task", "steady", "burst")
UVICORN_FLAGS = ["--ws-per-message-deflate", "false", "--log-level", "warning", "--no-access-log"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_redis(port: int) -> subprocess.Popen[bytes]:
    binary = shutil.which("redis-server") or "redis-server"
    redis = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    time.sleep(0.5)
    return redis


def start_server(
    kind: str, server: str, port: int, redis_url: str, workdir: str
) -> subprocess.Popen[bytes]:
    """The service (`dashboard-api run`, DASHBOARD_SERVER=server) or the floor under `server`;
    one worker, in a session of its own (its processes are one group)."""
    env = {**os.environ, "BENCH_REDIS_URL": redis_url, "DASHBOARD_REDIS_URL": redis_url}
    env["DASHBOARD_DATABASE_URL"] = f"sqlite+aiosqlite:///{workdir}/bench.db"
    env["DASHBOARD_LOG_LEVEL"] = "warning"
    env["DASHBOARD_SERVER"] = server
    env.update(system.RATE_LIMITS_OFF)
    if kind == "service":
        command = [str(Path(sys.executable).parent / "dashboard-api"), "run", "--port", str(port)]
    elif server == "granian":
        command = [sys.executable, "-m", "granian", "--interface", "asgi", "--port", str(port)]
        command += ["--log-level", "warning", "--no-access-log", "bench.realtime_floor:app"]
    else:
        command = [sys.executable, "-m", "uvicorn", "bench.realtime_floor:app"]
        command += ["--port", str(port), *UVICORN_FLAGS]
    process = subprocess.Popen(command, env=env, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"{kind}@{server} did not start")


def rss_kib(pgid: int) -> int:
    """Resident memory of every process in a group (granian: its main process and worker)."""
    total = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.getpgid(int(pid)) != pgid:
                continue
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total


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


@dataclass
class Contender:
    kind: str
    server: str
    redis: subprocess.Popen[bytes]
    redis_url: str
    process: subprocess.Popen[bytes]
    url: str
    workdir: str

    @property
    def name(self) -> str:
        return f"{self.kind}@{self.server}"


def launch(kind: str, server: str) -> Contender:
    redis_port, port = free_port(), free_port()
    redis = start_redis(redis_port)
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    workdir = tempfile.mkdtemp()
    process = start_server(kind, server, port, redis_url, workdir)
    return Contender(kind, server, redis, redis_url, process, f"ws://127.0.0.1:{port}/ws", workdir)


def shutdown(c: Contender) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(c.process.pid, signal.SIGTERM)
    c.process.wait()
    c.redis.terminate()
    c.redis.wait()
    shutil.rmtree(c.workdir, ignore_errors=True)


def memory(c: Contender, args: argparse.Namespace) -> float:
    """KiB of resident memory per idle connection, each subscribed to its own channel."""
    one = Clients(c.url, 1, "task:warmup-{}", 1)  # loads lazily imported code first
    one.stop()
    time.sleep(1)
    before = rss_kib(c.process.pid)
    clients = Clients(c.url, args.clients, "task:idle-{}", args.client_processes)
    time.sleep(2)
    kib = (rss_kib(c.process.pid) - before) / args.clients
    clients.stop()
    return round(kib, 1)


def scenario(c: Contender, name: str, args: argparse.Namespace) -> dict[str, Any]:
    """One run of a fan-out scenario, with the server's CPU per delivered frame."""
    if name == "per-task":
        channels = [f"task:bench-{n}" for n in range(args.clients)]
        clients = Clients(c.url, args.clients, "task:bench-{}", args.client_processes)
    else:
        channels = ["task:broadcast"]
        clients = Clients(c.url, args.clients, "task:broadcast", args.client_processes)
    cpu = system.group_cpu_seconds(c.process.pid)
    clients.go()
    rate = args.burst_rate if name == "burst" else 10
    start = asyncio.run(
        publish(c.redis_url, channels, rate, 5 if name == "burst" else args.duration)
    )
    time.sleep(10 if name == "burst" else 1)
    result = clients.stop()
    cpu = system.group_cpu_seconds(c.process.pid) - cpu
    found = summary(result) | {
        "server_cpu_us_per_frame": round(cpu * 1e6 / max(1, result["received"]), 1)
    }
    if name == "burst":
        elapsed = result["last"] - start
        found["offered_per_second"] = args.burst_rate * args.clients
        found["delivered_per_second"] = round(result["received"] / elapsed) if elapsed > 0 else 0
    return found


def median_spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument("--duration", type=float, default=5, help="seconds per run")
    parser.add_argument("--burst-rate", type=float, default=150, help="broadcasts per second")
    parser.add_argument("--kinds", nargs="+", default=["service", "floor"])
    parser.add_argument("--servers", nargs="+", choices=("uvicorn", "granian"), default=["uvicorn"])
    parser.add_argument("--scenarios", nargs="+", choices=SCENARIOS, default=list(SCENARIOS))
    parser.add_argument("--rounds", type=int, default=3, help="runs per contender and scenario")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "realtime-latest.json")
    args = parser.parse_args()
    conditions = {
        "clients": args.clients,
        "client_processes": args.client_processes,
        "duration_s": args.duration,
        "rounds": args.rounds,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_average": os.getloadavg(),
        "server": "1 worker; uvicorn: websockets-sansio, per-message deflate off",
    }
    contenders: list[Contender] = []
    runs: list[dict[str, Any]] = []
    memory_kib: dict[str, float] = {}
    try:
        for server in args.servers:
            for kind in args.kinds:
                contenders.append(launch(kind, server))
        for c in contenders:  # fresh processes, one at a time
            memory_kib[c.name] = memory(c, args)
            print(c.name, "KiB per idle connection", memory_kib[c.name], flush=True)
        for name in args.scenarios:
            for index in range(args.rounds):
                shift = index % len(contenders)
                for c in [*contenders[shift:], *contenders[:shift]]:
                    found = scenario(c, name, args)
                    found |= {"contender": c.name, "scenario": name, "round": index}
                    found["load_average"] = os.getloadavg()[0]
                    runs.append(found)
                    print(json.dumps(found), flush=True)
    finally:
        for c in contenders:
            shutdown(c)
    table: dict[str, Any] = {}
    for c in contenders:
        row: dict[str, Any] = {"memory_kib_per_connection": memory_kib.get(c.name)}
        for name in args.scenarios:
            mine = [r for r in runs if r["contender"] == c.name and r["scenario"] == name]
            keys = ("p50_ms", "p99_ms", "server_cpu_us_per_frame", "delivered_per_second")
            row[name] = {k: median_spread([r[k] for r in mine]) for k in keys if k in mine[0]}
        table[c.name] = row
    conditions["load_average_end"] = os.getloadavg()
    report = {"conditions": conditions, "summary": table, "runs": runs}
    args.out.parent.mkdir(exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(json.dumps(conditions))
    print("| contender | KiB per idle connection | scenario | p50 ms | p99 ms | delivered/s "
          "| server CPU us per frame |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for name, row in table.items():
        for key in args.scenarios:
            cells = [
                "{median:,.2f} ({min:,.2f}-{max:,.2f})".format(**row[key][k])
                if k in row[key]
                else "-"
                for k in ("p50_ms", "p99_ms", "delivered_per_second", "server_cpu_us_per_frame")
            ]
            print(f"| {name} | {row['memory_kib_per_connection']} | {key} | {' | '.join(cells)} |")
    print()
    print(paired_table(runs, args.servers, args.scenarios))
    print(f"wrote {args.out}")


def paired_table(runs: list[dict[str, Any]], servers: list[str], scenarios: list[str]) -> str:
    """The service over the floor on each server, per round (the two runs of a round are
    seconds apart), median and min-max: the figure to compare on a shared machine."""
    lines = [
        "| server | scenario | p50 service / floor | p99 service / floor "
        "| CPU per frame service / floor | delivered/s service / floor |",
        "|---|---|---|---|---|---|",
    ]
    metrics = ("p50_ms", "p99_ms", "server_cpu_us_per_frame", "delivered_per_second")
    for server in servers:
        for name in scenarios:
            mine = [r for r in runs if r["scenario"] == name and "p50_ms" in r]
            cells = []
            for metric in metrics:
                ratio = harness.paired_ratios(
                    [r for r in mine if metric in r],
                    ("scenario",),
                    f"service@{server}",
                    f"floor@{server}",
                    metric,
                )
                cells.append(ratio.show(".2f") if ratio else "-")
            lines.append(f"| {server} | {name} | {' | '.join(cells)} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
