"""Drive the real service and the floor with wrk, side by side, on the generated data.

    .venv/bin/python -m bench.generate      # once: 1,000,000 tasks into dashboard_bench
    .venv/bin/python -m bench.run [--workers 1 2] [--duration 15] [--rounds 3]

Servers run one at a time on 127.0.0.1 (the real one on --port, the floor on --port + 1), each
under uvicorn with the same worker count; rounds alternate them and the table shows medians.
Besides wrk's figures, each run records the CPU time the server's processes spent per request,
which other load on a shared machine disturbs less than throughput.
Results go to bench/results/latest.json.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import asyncpg
import msgspec

from bench import system
from dashboard_api.adapters.sqlalchemy.migrate import upgrade

HERE = Path(__file__).parent
DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/dashboard_bench"
SCENARIOS = ("get", "list", "deep")
SERVERS = ("real", "floor")
PAGE = 50


def encode_cursor(created_at: datetime, task_id: str) -> str:
    """The service's cursor: base64url, unpadded, of the JSON array [created_at, task_id]."""
    raw = msgspec.json.encode([created_at, task_id])
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


async def fixtures(url: str, sample: int, deep_offset: int) -> dict[str, Any]:
    connection = await asyncpg.connect(url)
    try:
        ids = await connection.fetch(
            "SELECT task_id FROM tasks ORDER BY md5(task_id) LIMIT $1", sample
        )
        deep = await connection.fetch(
            "SELECT created_at, task_id FROM tasks ORDER BY created_at DESC, task_id DESC "
            "OFFSET $1 LIMIT 2",
            deep_offset - 1,
        )
        return {
            "ids": [row["task_id"] for row in ids],
            "deep": (deep[0]["created_at"], deep[0]["task_id"]),  # last row of page 10,000
            "deep_first": deep[1]["task_id"],  # the first row the deep page must show
            "rows": await connection.fetchval("SELECT count(*) FROM tasks"),
            "postgres": await connection.fetchval("SHOW server_version"),
        }
    finally:
        await connection.close()


def paths(server: str, data: dict[str, Any]) -> dict[str, str]:
    created_at, task_id = data["deep"]
    if server == "real":
        deep = urlencode({"limit": PAGE, "cursor": encode_cursor(created_at, task_id)})
    else:
        deep = urlencode({"limit": PAGE, "created_at": created_at.isoformat(), "task_id": task_id})
    return {
        "get": f"/api/tasks/{data['ids'][0]}",
        "list": f"/api/tasks?limit={PAGE}",
        "deep": f"/api/tasks?{deep}",
    }


def start(
    server: str,
    port: int,
    workers: int,
    database_url: str,
    rate_limits: dict[str, str] = system.RATE_LIMITS_OFF,
) -> subprocess.Popen[bytes]:
    if not system.port_free(port):
        raise SystemExit(f"port {port} is taken: choose another with --port")
    env = dict(os.environ)
    if server == "real":
        command = [str(Path(sys.executable).parent / "dashboard-api"), "run", "--no-migrate"]
        env.update(DASHBOARD_DATABASE_URL=database_url, DASHBOARD_LOG_LEVEL="warning")
        env.update(rate_limits)
    else:
        command = [sys.executable, "-m", "uvicorn", "bench.floor_app:app", "--no-access-log"]
        command += ["--host", "127.0.0.1", "--log-level", "warning"]
        env["BENCH_DATABASE_URL"] = database_url.replace("+asyncpg", "")
    command += ["--port", str(port), "--workers", str(workers)]
    process = subprocess.Popen(command, env=env, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{server} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                return process
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    stop(process)
    raise SystemExit(f"{server} did not answer /health on port {port} within 30 s")


def stop(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def check(port: int, path: str, expect_first: str | None) -> None:
    """One request before loading: it must answer 200 (and the deep page the right rows)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
        body = json.loads(response.read())
    if expect_first is not None and body["items"][0]["task_id"] != expect_first:
        raise SystemExit(f"deep page on port {port} starts at the wrong row")


def wrk(port: int, path: str, args: argparse.Namespace, seconds: int, ids: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "BENCH_IDS"}
    if ids is not None:
        env["BENCH_IDS"] = ids
    command = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{seconds}s"]
    command += ["--latency", "-s", str(HERE / "wrk.lua"), f"http://127.0.0.1:{port}{path}"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    stats: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    stats["rps"] = stats["requests"] / (stats["duration_us"] / 1e6)
    return stats


def measure(server: str, workers: int, data: dict, args: argparse.Namespace, ids: str) -> list:
    port = args.port if server == "real" else args.port + 1
    routes = paths(server, data)
    limits = system.RATE_LIMITS_COUNTED if args.rate_limits == "counted" else system.RATE_LIMITS_OFF
    process = start(server, port, workers, args.database_url, limits)
    results = []
    try:
        for scenario in args.scenarios:
            check(port, routes[scenario], data["deep_first"] if scenario == "deep" else None)
            id_file = ids if scenario == "get" else None
            busy = system.wait_quiet(args.quiet)
            wrk(port, routes[scenario], args, args.warmup, id_file)
            cpu = system.group_cpu_seconds(process.pid)
            stats = wrk(port, routes[scenario], args, args.duration, id_file)
            cpu = system.group_cpu_seconds(process.pid) - cpu
            stats["server_cpu_us"] = cpu * 1e6 / max(1, stats["requests"])
            stats["busy_before"] = round(busy, 3)
            results.append({"server": server, "workers": workers, "scenario": scenario, **stats})
            print(
                f"{server:5} w={workers} {scenario:4} {stats['rps']:7.0f} req/s  "
                f"p50 {stats['p50_us'] / 1000:6.2f} ms  p99 {stats['p99_us'] / 1000:6.2f} ms  "
                f"server cpu {stats['server_cpu_us']:5.0f} us/req  "
                f"non-2xx {stats['non_2xx_3xx']}  socket errors {stats['socket_errors']}  "
                f"(busy before {busy:.0%})",
                flush=True,
            )
    finally:
        stop(process)
    return results


def summarize(runs: list[dict]) -> list[dict]:
    """The median of the rounds, per server, worker count and scenario."""
    groups: dict[tuple, list[dict]] = {}
    for run in runs:
        groups.setdefault((run["server"], run["workers"], run["scenario"]), []).append(run)
    summary = []
    for (server, workers, scenario), group in groups.items():
        row = {"server": server, "workers": workers, "scenario": scenario, "rounds": len(group)}
        for key in ("rps", "p50_us", "p99_us", "server_cpu_us"):
            row[key] = statistics.median(run[key] for run in group)
        row["non_2xx_3xx"] = sum(run["non_2xx_3xx"] for run in group)
        row["socket_errors"] = sum(run["socket_errors"] for run in group)
        summary.append(row)
    return summary


def table(summary: list[dict]) -> str:
    by = {(r["server"], r["workers"], r["scenario"]): r for r in summary}
    lines = [
        "| workers | scenario | service req/s | floor req/s | service / floor "
        "| service p50 / p99 ms | floor p50 / p99 ms | server CPU µs/req service / floor "
        "| non-2xx |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    notes = []
    for workers in sorted({r["workers"] for r in summary}):
        for scenario in SCENARIOS:
            real, floor = by.get(("real", workers, scenario)), by.get(("floor", workers, scenario))
            if real is None or floor is None:
                continue
            lines.append(
                f"| {workers} | {scenario} | {real['rps']:,.0f} | {floor['rps']:,.0f} "
                f"| {real['rps'] / floor['rps']:.0%} "
                f"| {real['p50_us'] / 1000:.1f} / {real['p99_us'] / 1000:.1f} "
                f"| {floor['p50_us'] / 1000:.1f} / {floor['p99_us'] / 1000:.1f} "
                f"| {real['server_cpu_us']:,.0f} / {floor['server_cpu_us']:,.0f} "
                f"| {real['non_2xx_3xx'] + floor['non_2xx_3xx']} |"
            )
        for server in SERVERS:
            deep, first = by.get((server, workers, "deep")), by.get((server, workers, "list"))
            if deep and first:
                notes.append(
                    f"{server}, {workers} worker(s): deep page p50 / first page p50 = "
                    f"{deep['p50_us'] / first['p50_us']:.2f}"
                )
    return "\n".join([*lines, "", *notes])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--port", type=int, default=5100, help="the floor uses port + 1")
    parser.add_argument("--workers", type=int, nargs="+", default=[1])
    parser.add_argument("--scenarios", nargs="+", choices=SCENARIOS, default=list(SCENARIOS))
    parser.add_argument("--servers", nargs="+", choices=SERVERS, default=list(SERVERS))
    parser.add_argument("--duration", type=int, default=15, help="seconds measured per run")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of load before each run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--rate-limits",
        choices=("off", "counted"),
        default="off",
        help="counted: every request is counted against budgets no run can spend",
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3, help="the table shows the median")
    parser.add_argument("--quiet", type=float, default=0.15, help="max CPU busy before a run")
    parser.add_argument("--sample", type=int, default=10_000, help="random task ids to request")
    parser.add_argument("--deep-offset", type=int, default=500_000, help="rows before the page")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: `apt-get install -y wrk` (as root), then rerun")

    # The schema moves on after the data was generated: the service serves it --no-migrate.
    upgrade(args.database_url)
    plain_url = args.database_url.replace("postgresql+asyncpg://", "postgresql://")
    data = asyncio.run(fixtures(plain_url, args.sample, args.deep_offset))
    settings = {k: getattr(args, k) for k in ("threads", "connections", "duration", "warmup")}
    settings |= {"rounds": args.rounds, "workers": args.workers}
    conditions = {**system.conditions(), "postgres": data["postgres"], "rows": data["rows"]}
    out = HERE / "results" / "latest.json"
    out.parent.mkdir(exist_ok=True)
    runs: list[dict] = []
    with tempfile.NamedTemporaryFile("w", suffix=".ids") as ids:
        ids.write("\n".join(data["ids"]) + "\n")
        ids.flush()
        for workers in args.workers:
            for _ in range(args.rounds):
                for server in args.servers:
                    runs += measure(server, workers, data, args, ids.name)
                    report = {"conditions": conditions | settings, "runs": runs}
                    report["summary"] = summarize(runs)
                    out.write_text(json.dumps(report, indent=2) + "\n")  # kept if a run fails

    print()
    print(table(summarize(runs)))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
