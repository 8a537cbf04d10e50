"""Drive the real service and the floors with wrk, interleaved, on the generated data.

    .venv/bin/python -m bench.generate      # once: 1,000,000 tasks into dashboard_bench
    .venv/bin/python -m bench.run [--workers 1 2] [--servers uvicorn granian]
        [--contenders service floor bare bare-text] [--baseline-tree /work/other-checkout]
        [--rounds 6] [--duration 5]

Every contender is up at once on its own port (from --port on): the service (`dashboard-api
run`, DASHBOARD_SERVER set to each --servers entry), the floors (bench/floor_app.py: `floor` is
bare Litestar, `bare` a bare ASGI callable, both asyncpg + msgspec on the service's pool size
with no reset round trip; `bare-text` the bare callable reading timestamps as text, as the
service's driver does) under the same servers, and optionally the service of another
checkout (`baseline`, its own default server). Per scenario each contender is warmed up, then
runs of --duration seconds alternate between them, --rounds times (the order rotates by one each
round). Each run records wrk's figures and the CPU time per request of the server's processes
and of the PostgreSQL backends of the bench database (bench/harness.py). Tables: medians with
min-max, and per-round ratios. Results go to bench/results/latest.json (--out).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import functools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import asyncpg
import msgspec

from bench import harness, system
from dashboard_api.adapters.sqlalchemy.migrate import upgrade

HERE = Path(__file__).parent
DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/dashboard_bench"
SCENARIOS = ("get", "list", "deep")
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
    """The three scenarios' paths; `server` is "real" (the service's cursor) or a floor."""
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


KEYS = ("workers", "scenario")


def measure(workers: int, data: dict, args: argparse.Namespace, ids: str, out: Path) -> list:
    found = harness.contenders(args.contenders, args.servers, args.port, args.baseline_tree)
    limits = system.RATE_LIMITS_COUNTED if args.rate_limits == "counted" else system.RATE_LIMITS_OFF
    with harness.running(
        found, workers, args.database_url, args.pool_size, limits, args.startup
    ) as database:
        # Every (scenario, contender) pair is a slot of each round: the two sides of a
        # comparison run seconds apart, and so do a contender's first and deep pages.
        slots = [(c, scenario) for scenario in args.scenarios for c in found]
        routes = {c.name: paths("real" if c.is_service else "floor", data) for c in found}
        for c, scenario in slots:
            route = routes[c.name][scenario]
            check(c.port, route, data["deep_first"] if scenario == "deep" else None)
            wrk(c.port, route, args, args.warmup, ids if scenario == "get" else None)
        run = functools.partial(
            _run, workers=workers, routes=routes, ids=ids, args=args, database=database
        )
        return harness.rounds(slots, args.rounds, run, args.quiet, args.quiet_wait)


def _run(
    slot: tuple[harness.Contender, str],
    index: int,
    *,
    workers: int,
    routes: dict[str, dict[str, str]],
    ids: str,
    args: argparse.Namespace,
    database: harness.DatabaseCpu,
) -> dict[str, Any]:
    c, scenario = slot
    path, id_file = routes[c.name][scenario], ids if scenario == "get" else None
    stats = harness.measure(c, lambda: wrk(c.port, path, args, args.duration, id_file), database)
    print(
        f"w={workers} {scenario:4} r{index} {c.name:16} {stats['rps']:7.0f} req/s  "
        f"p50 {stats['p50_us'] / 1000:6.2f} ms  p99 {stats['p99_us'] / 1000:6.2f} ms  "
        f"cpu us/req server {stats['server_cpu_us']:5.0f} db {stats['db_cpu_us']:4.0f}  "
        f"non-2xx {stats['non_2xx_3xx']}  other load {stats['other_load']:.0%}  "
        f"load avg {stats['load_average']:.1f}",
        flush=True,
    )
    return stats | {"workers": workers, "scenario": scenario, "contender": c.name}


def write(out: Path, runs: list[dict], args: argparse.Namespace, **extra: Any) -> None:
    settings = {k: getattr(args, k) for k in ("threads", "connections", "duration", "warmup")}
    settings |= {"rounds": args.rounds, "workers": args.workers, "pool_size": args.pool_size}
    report = {"conditions": extra.get("conditions", {}) | settings, "runs": runs}
    report["summary"] = harness.jsonable(harness.summarize(runs, KEYS), KEYS)
    out.write_text(json.dumps(report, indent=2, default=str) + "\n")


def deep_notes(runs: list[dict]) -> list[str]:
    """Page 10,000 deep over the first page, per contender, per round (seconds apart)."""
    by = {(r["workers"], r["scenario"], r["contender"], r["round"]): r for r in runs}
    notes = []
    for workers, scenario, name, index in list(by):
        if scenario != "deep" or index != 0:
            continue
        pairs = [
            (by[(workers, "deep", name, i)], first)
            for (w, s, n, i), first in by.items()
            if (w, s, n) == (workers, "list", name) and (workers, "deep", name, i) in by
        ]
        if pairs:
            cpu = harness.Spread.of([d["total_cpu_us"] / f["total_cpu_us"] for d, f in pairs])
            p50 = harness.Spread.of([d["p50_us"] / f["p50_us"] for d, f in pairs])
            notes.append(
                f"{name}, {workers} worker(s): page 10,000 deep / first page, per round: CPU per "
                f"request (server + database) {cpu.show('.2f')}, p50 {p50.show('.2f')}"
            )
    return notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--port", type=int, default=5100, help="the first of the contenders' ports")
    parser.add_argument("--workers", type=int, nargs="+", default=[1])
    parser.add_argument("--scenarios", nargs="+", choices=SCENARIOS, default=list(SCENARIOS))
    parser.add_argument(
        "--contenders", nargs="+", choices=harness.KINDS, default=["service", "floor"]
    )
    parser.add_argument("--servers", nargs="+", choices=harness.SERVERS, default=["uvicorn"])
    parser.add_argument(
        "--baseline-tree", help="another checkout: its .venv/bin/dashboard-api run, beside ours"
    )
    parser.add_argument("--duration", type=int, default=5, help="seconds measured per run")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of load per contender first")
    parser.add_argument("--rounds", type=int, default=6, help="runs per contender and scenario")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--pool-size", type=int, default=20, help="DASHBOARD_DB_POOL_SIZE, all")
    parser.add_argument(
        "--rate-limits",
        choices=("off", "counted"),
        default="off",
        help="counted: every request is counted against budgets no run can spend",
    )
    parser.add_argument("--quiet", type=float, default=0.15, help="CPU busy to wait below")
    parser.add_argument("--quiet-wait", type=int, default=20, help="max seconds waited per round")
    parser.add_argument("--startup", type=float, default=120, help="max seconds until /health")
    parser.add_argument("--sample", type=int, default=10_000, help="random task ids to request")
    parser.add_argument("--deep-offset", type=int, default=500_000, help="rows before the page")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "latest.json")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: `apt-get install -y wrk` (as root), then rerun")

    # The schema moves on after the data was generated: the service serves it --no-migrate.
    upgrade(args.database_url)
    plain_url = args.database_url.replace("postgresql+asyncpg://", "postgresql://")
    data = asyncio.run(fixtures(plain_url, args.sample, args.deep_offset))
    conditions = {**system.conditions(), "postgres": data["postgres"], "rows": data["rows"]}
    args.out.parent.mkdir(exist_ok=True)
    runs: list[dict] = []
    with tempfile.NamedTemporaryFile("w", suffix=".ids") as ids:
        ids.write("\n".join(data["ids"]) + "\n")
        ids.flush()
        for workers in args.workers:
            runs += measure(workers, data, args, ids.name, args.out)
    conditions["load_average_end"] = os.getloadavg()
    write(args.out, runs, args, conditions=conditions)
    print()
    print(harness.figure_table(harness.summarize(runs, KEYS), KEYS))
    print()
    print(harness.ratio_table(runs, KEYS))
    print()
    print("\n".join(deep_notes(runs)))
    print(f"\nconditions: {conditions}\nwrote {args.out}")


if __name__ == "__main__":
    main()
