"""Drive the real service and the floor with wrk, side by side, on the generated data.

    .venv/bin/python -m bench.generate      # once: 1,000,000 tasks into dashboard_bench
    .venv/bin/python -m bench.run [--workers 1 2] [--duration 15]

Servers run one at a time on 127.0.0.1 (the real one on --port, the floor on --port + 1), each
under uvicorn with the same worker count. Results go to bench/results/latest.json.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import asyncpg
import msgspec

HERE = Path(__file__).parent
DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/dashboard_bench"
SCENARIOS = ("get", "list", "deep")
SERVERS = ("real", "floor")
PAGE = 50


def encode_cursor(created_at: datetime, task_id: str) -> str:
    """The service's cursor: base64url, unpadded, of the JSON array [created_at, task_id]."""
    raw = msgspec.json.encode([created_at, task_id])
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


async def fixtures(url: str, sample: int, deep_offset: int) -> dict[str, object]:
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
            "deep": (deep[0]["created_at"], deep[0]["task_id"]),
            "deep_first": deep[1]["task_id"],  # the first row the deep page must show
            "rows": await connection.fetchval("SELECT count(*) FROM tasks"),
            "postgres": await connection.fetchval("SHOW server_version"),
        }
    finally:
        await connection.close()


def paths(server: str, data: dict[str, object]) -> dict[str, str]:
    created_at, task_id = data["deep"]  # type: ignore[misc]
    if server == "real":
        deep = urlencode({"limit": PAGE, "cursor": encode_cursor(created_at, task_id)})
    else:
        deep = urlencode({"limit": PAGE, "created_at": created_at.isoformat(), "task_id": task_id})
    first_id = data["ids"][0]  # type: ignore[index]
    return {
        "get": f"/api/tasks/{first_id}",
        "list": f"/api/tasks?limit={PAGE}",
        "deep": f"/api/tasks?{deep}",
    }


def start(server: str, port: int, workers: int, database_url: str) -> subprocess.Popen[bytes]:
    bin_dir = Path(sys.executable).parent
    env = dict(os.environ)
    if server == "real":
        command = [str(bin_dir / "dashboard-api"), "run", "--no-migrate"]
        env.update(DASHBOARD_DATABASE_URL=database_url, DASHBOARD_LOG_LEVEL="warning")
    else:
        command = [sys.executable, "-m", "uvicorn", "bench.floor_app:app", "--no-access-log"]
        command += ["--host", "127.0.0.1", "--log-level", "warning"]
        env["BENCH_DATABASE_URL"] = database_url.replace("+asyncpg", "")
    command += ["--port", str(port), "--workers", str(workers)]
    process = subprocess.Popen(command, env=env, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                return process
        except (urllib.error.URLError, ConnectionError):
            if process.poll() is not None:
                raise SystemExit(f"{server} exited with {process.returncode}") from None
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


def check(port: int, path: str, expect_first: str | None = None) -> None:
    """One request before loading: it must answer 200 (and the deep page the right rows)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
        body = json.loads(response.read())
    if expect_first is not None and body["items"][0]["task_id"] != expect_first:
        raise SystemExit(f"deep page on port {port} starts at the wrong row")


def wrk(port: int, path: str, args: argparse.Namespace, seconds: int, ids: str | None) -> dict:
    env = dict(os.environ)
    env.pop("BENCH_IDS", None)
    if ids is not None:
        env["BENCH_IDS"] = ids
    command = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{seconds}s"]
    command += ["--latency", "-s", str(HERE / "wrk.lua"), f"http://127.0.0.1:{port}{path}"]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    stats = json.loads(done.stdout.strip().splitlines()[-1])
    stats["rps"] = stats["requests"] / (stats["duration_us"] / 1e6)
    return stats


def measure(server: str, workers: int, data: dict, args: argparse.Namespace, ids: str) -> list:
    port = args.port if server == "real" else args.port + 1
    routes = paths(server, data)
    process = start(server, port, workers, args.database_url)
    results = []
    try:
        for scenario in args.scenarios:
            check(port, routes[scenario], data["deep_first"] if scenario == "deep" else None)
            id_file = ids if scenario == "get" else None
            wrk(port, routes[scenario], args, args.warmup, id_file)
            stats = wrk(port, routes[scenario], args, args.duration, id_file)
            results.append({"server": server, "workers": workers, "scenario": scenario, **stats})
            print(
                f"{server:5} w={workers} {scenario:4} {stats['rps']:8.0f} req/s  "
                f"p50 {stats['p50_us'] / 1000:6.2f} ms  p99 {stats['p99_us'] / 1000:6.2f} ms  "
                f"non-2xx {stats['non_2xx_3xx']}  socket errors {stats['socket_errors']}",
                flush=True,
            )
    finally:
        stop(process)
    return results


def table(results: list[dict]) -> str:
    by = {(r["server"], r["workers"], r["scenario"]): r for r in results}
    lines = [
        "| workers | scenario | service req/s | floor req/s | ratio | service p50 / p99 ms "
        "| floor p50 / p99 ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for workers, scenario in sorted({(r["workers"], r["scenario"]) for r in results}):
        real, floor = by.get(("real", workers, scenario)), by.get(("floor", workers, scenario))
        if real is None or floor is None:
            continue
        lines.append(
            f"| {workers} | {scenario} | {real['rps']:,.0f} | {floor['rps']:,.0f} "
            f"| {real['rps'] / floor['rps']:.0%} "
            f"| {real['p50_us'] / 1000:.2f} / {real['p99_us'] / 1000:.2f} "
            f"| {floor['p50_us'] / 1000:.2f} / {floor['p99_us'] / 1000:.2f} |"
        )
    return "\n".join(lines)


def conditions(data: dict, args: argparse.Namespace) -> dict[str, object]:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor(),
    )  # fmt: skip
    memory_kb = int(Path("/proc/meminfo").read_text().split()[1])
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split()
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kb / 2**20, 1),
        "python": platform.python_version(),
        "postgres": data["postgres"],
        "wrk": " ".join(wrk_version[:2]),
        "rows": data["rows"],
        "threads": args.threads,
        "connections": args.connections,
        "duration_s": args.duration,
        "warmup_s": args.warmup,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--port", type=int, default=5100, help="the floor uses port + 1")
    parser.add_argument("--workers", type=int, nargs="+", default=[1])
    parser.add_argument("--scenarios", nargs="+", choices=SCENARIOS, default=list(SCENARIOS))
    parser.add_argument("--servers", nargs="+", choices=SERVERS, default=list(SERVERS))
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--sample", type=int, default=10_000, help="random task ids to request")
    parser.add_argument("--deep-offset", type=int, default=500_000, help="rows before the page")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: `apt-get install -y wrk` (as root), then rerun")

    plain_url = args.database_url.replace("postgresql+asyncpg://", "postgresql://")
    data = asyncio.run(fixtures(plain_url, args.sample, args.deep_offset))
    results = []
    with tempfile.NamedTemporaryFile("w", suffix=".ids") as ids:
        ids.write("\n".join(data["ids"]) + "\n")
        ids.flush()
        for workers in args.workers:
            for server in args.servers:
                results += measure(server, workers, data, args, ids.name)

    print()
    print(table(results))
    out = HERE / "results" / "latest.json"
    out.parent.mkdir(exist_ok=True)
    report = {"conditions": conditions(data, args), "results": results}
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
