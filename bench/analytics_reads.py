"""Analytics reads beside the floor, with wrk, on a generated database, interleaved.

    .venv/bin/python -m bench.generate --rows 1000000 --database-url URL   # tasks
    DASHBOARD_DATABASE_URL=URL .venv/bin/dashboard-api analytics rebuild    # rollups
    .venv/bin/python -m bench.analytics_reads --database-url URL [--rounds 6] [--duration 5]
        [--servers uvicorn granian]

The real service (one worker) answers summary (all time), the 30-day daily cost histogram and
performance (30 days); the floor (bench/floor_app.py: bare Litestar + asyncpg + msgspec, the
service's pool size, no reset round trip) answers GET /api/tasks/{id} for random ids, and so does
the service, for scale. Both are up at once (bench/harness.py); each round runs every (server,
scenario) pair for --duration seconds, the order rotating by one each round, with the CPU per
request of the server and of its PostgreSQL backends (an uncached analytics answer is mostly the
database's work). Results are appended to bench/results/analytics-reads.json.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

from bench import harness, system
from bench.run import HERE, fixtures, wrk

SCENARIOS = {
    "summary": "/api/analytics/summary",
    "histogram-30d": "/api/analytics/costs/histogram?granularity=day&days=30",
    "performance": "/api/analytics/performance?days=30",
    "performance-by-model": "/api/analytics/performance?days=30&group_by=model",
}
KEYS = ("scenario",)


def measure(args: argparse.Namespace, data: dict[str, Any], ids: str) -> list[dict]:
    found = harness.contenders(["service", "floor"], args.servers, args.port, None)
    database = harness.DatabaseCpu(args.database_url)
    get_path = f"/api/tasks/{data['ids'][0]}"
    slots: list[tuple[harness.Contender, str, str]] = []
    for c in found:
        if c.kind == "service":
            slots += [(c, scenario, path) for scenario, path in SCENARIOS.items()]
        slots.append((c, "get-task", get_path))
    runs: list[dict] = []
    try:
        harness.start_all(
            found, 1, args.database_url, args.pool_size, system.RATE_LIMITS_OFF, args.startup
        )
        for c, scenario, path in slots:
            with urllib.request.urlopen(f"http://127.0.0.1:{c.port}{path}", timeout=30) as r:
                assert r.status == 200, (c.name, scenario, r.status)
            wrk(c.port, path, args, args.warmup, ids if scenario == "get-task" else None)
        runs = harness.rounds(
            slots,
            args.rounds,
            functools.partial(_run, args=args, ids=ids, database=database),
            args.quiet,
            args.quiet_wait,
        )
    finally:
        harness.stop_all(found)
        database.close()
    return runs


def _run(
    slot: tuple[harness.Contender, str, str],
    index: int,
    *,
    args: argparse.Namespace,
    ids: str,
    database: harness.DatabaseCpu,
) -> dict[str, Any]:
    c, scenario, path = slot
    id_file = ids if scenario == "get-task" else None
    stats = harness.measure(c, lambda: wrk(c.port, path, args, args.duration, id_file), database)
    _print(c.name, scenario, stats)
    return stats | {"contender": c.name, "scenario": scenario}


def _print(name: str, scenario: str, stats: dict) -> None:
    print(
        f"{name:16} {scenario:22} {stats['rps']:8.0f} req/s  p50 {stats['p50_us'] / 1000:6.2f} ms"
        f"  p99 {stats['p99_us'] / 1000:6.2f} ms  cpu us/req server {stats['server_cpu_us']:5.0f}"
        f" db {stats['db_cpu_us']:5.0f}  non-2xx {stats['non_2xx_3xx']}"
        f"  other load {stats['other_load']:.0%}",
        flush=True,
    )


def against_floor(runs: list[dict], server: str) -> list[str]:
    """Each service scenario's req/s over the floor's by-id req/s in the same round."""
    floor = {r["round"]: r["rps"] for r in runs if r["contender"] == f"floor@{server}"}
    lines = []
    for scenario in [*SCENARIOS, "get-task"]:
        mine = [
            r for r in runs if r["contender"] == f"service@{server}" and r["scenario"] == scenario
        ]
        ratios = [r["rps"] / floor[r["round"]] for r in mine if r["round"] in floor]
        if ratios:
            lines.append(
                f"| {server} | {scenario} | {harness.Spread.of(ratios).show('.2f')} "
                "(service req/s over the floor's by-id req/s, same round) |"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--port", type=int, default=5120, help="the first contender's port")
    parser.add_argument("--servers", nargs="+", choices=harness.SERVERS, default=["uvicorn"])
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--pool-size", type=int, default=20)
    parser.add_argument("--quiet", type=float, default=0.15)
    parser.add_argument("--quiet-wait", type=int, default=20)
    parser.add_argument("--startup", type=float, default=120)
    args = parser.parse_args()
    plain_url = args.database_url.replace("postgresql+asyncpg://", "postgresql://")
    data = asyncio.run(fixtures(plain_url, 10_000, 1_000))
    with tempfile.NamedTemporaryFile("w", suffix=".ids") as ids:
        ids.write("\n".join(data["ids"]) + "\n")
        ids.flush()
        runs = measure(args, data, ids.name)
    summary = harness.summarize(runs, KEYS)
    print(f"\n{data['rows']:,} tasks")
    print(harness.figure_table(summary, KEYS))
    print()
    for server in args.servers:
        print("\n".join(against_floor(runs, server)))
    out = HERE / "results" / "analytics-reads.json"
    out.parent.mkdir(exist_ok=True)
    previous = json.loads(out.read_text()) if out.exists() else []
    settings = {k: getattr(args, k) for k in ("threads", "connections", "duration", "warmup")}
    settings["rounds"] = args.rounds
    conditions = {**system.conditions(), "postgres": data["postgres"], "rows": data["rows"]}
    conditions["load_average_end"] = os.getloadavg()
    previous.append(
        {
            "conditions": conditions | settings,
            "summary": harness.jsonable(summary, KEYS),
            "runs": runs,
        }
    )
    out.write_text(json.dumps(previous, indent=2, default=str) + "\n")
    print(f"wrote {Path(out)}")


if __name__ == "__main__":
    main()
