"""Analytics reads beside the floor, with wrk, on a generated database.

    .venv/bin/python -m bench.generate --rows 1000000 --database-url URL   # tasks
    DASHBOARD_DATABASE_URL=URL .venv/bin/dashboard-api analytics rebuild    # rollups
    .venv/bin/python -m bench.analytics_reads --database-url URL [--duration 10]

The real service (one uvicorn worker) answers summary (all time), the 30-day daily cost
histogram and performance (30 days); the floor (bench/floor_app.py, bare Litestar + asyncpg)
answers GET /api/tasks/{id} for random ids, under the same wrk load. Results are appended to
bench/results/analytics-reads.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import tempfile
import urllib.request
from pathlib import Path

from bench import system
from bench.run import HERE, fixtures, start, stop, wrk

SCENARIOS = {
    "summary": "/api/analytics/summary",
    "histogram-30d": "/api/analytics/costs/histogram?granularity=day&days=30",
    "performance": "/api/analytics/performance?days=30",
    "performance-by-model": "/api/analytics/performance?days=30&group_by=model",
}


def _load(
    process: subprocess.Popen[bytes],
    port: int,
    path: str,
    args: argparse.Namespace,
    ids: str | None,
) -> dict:
    """Warm up, then measure; with the server's CPU time per request."""
    wrk(port, path, args, args.warmup, ids)
    cpu = system.group_cpu_seconds(process.pid)
    stats = wrk(port, path, args, args.duration, ids)
    stats["server_cpu_us"] = (system.group_cpu_seconds(process.pid) - cpu) * 1e6 / stats["requests"]
    return stats


def measure(args: argparse.Namespace, data: dict[str, object], ids: str) -> list[dict]:
    results = []
    real = start("real", args.port, 1, args.database_url)
    try:
        for scenario, path in SCENARIOS.items():
            with urllib.request.urlopen(f"http://127.0.0.1:{args.port}{path}", timeout=30) as r:
                assert r.status == 200, (scenario, r.status)
            stats = _load(real, args.port, path, args, None)
            results.append({"server": "real", "scenario": scenario, **stats})
            _print("real", scenario, stats)
        # For scale: the service's own single-row read, beside the floor's.
        path = f"/api/tasks/{data['ids'][0]}"  # type: ignore[index]
        stats = _load(real, args.port, path, args, ids)
        results.append({"server": "real", "scenario": "get-task", **stats})
        _print("real", "get-task", stats)
    finally:
        stop(real)
    floor = start("floor", args.port + 1, 1, args.database_url)
    try:
        first = data["ids"][0]  # type: ignore[index]
        path = f"/api/tasks/{first}"
        stats = _load(floor, args.port + 1, path, args, ids)
        results.append({"server": "floor", "scenario": "get-task", **stats})
        _print("floor", "get-task", stats)
    finally:
        stop(floor)
    return results


def _print(server: str, scenario: str, stats: dict) -> None:
    print(
        f"{server:5} {scenario:22} {stats['rps']:8.0f} req/s  p50 {stats['p50_us'] / 1000:6.2f} ms"
        f"  p99 {stats['p99_us'] / 1000:6.2f} ms  cpu {stats['server_cpu_us']:5.0f} us/req"
        f"  non-2xx {stats['non_2xx_3xx']}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--port", type=int, default=5120, help="the floor uses port + 1")
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    plain_url = args.database_url.replace("postgresql+asyncpg://", "postgresql://")
    data = asyncio.run(fixtures(plain_url, 10_000, 1_000))
    with tempfile.NamedTemporaryFile("w", suffix=".ids") as ids:
        ids.write("\n".join(data["ids"]) + "\n")  # type: ignore[arg-type]
        ids.flush()
        results = measure(args, data, ids.name)
    floor_rps = next(r["rps"] for r in results if r["server"] == "floor")
    print(f"\n{data['rows']:,} tasks; floor GET /api/tasks/{{id}}: {floor_rps:,.0f} req/s")
    for result in results:
        if result["server"] == "real":
            print(
                f"| {result['scenario']} | {result['p50_us'] / 1000:.2f} | "
                f"{result['p99_us'] / 1000:.2f} | {result['rps']:,.0f} | "
                f"{result['rps'] / floor_rps:.0%} |"
            )
    out = HERE / "results" / "analytics-reads.json"
    out.parent.mkdir(exist_ok=True)
    previous = json.loads(out.read_text()) if out.exists() else []
    settings = {k: getattr(args, k) for k in ("threads", "connections", "duration", "warmup")}
    conditions = {**system.conditions(), "postgres": data["postgres"], "rows": data["rows"]}
    previous.append({"conditions": conditions | settings, "results": results})
    out.write_text(json.dumps(previous, indent=2, default=str) + "\n")
    print(f"wrote {Path(out)}")


if __name__ == "__main__":
    main()
