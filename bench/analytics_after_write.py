"""Analytics read right after a write: this code against a baseline checkout, interleaved.

    .venv/bin/python -m bench.analytics_after_write --database-url URL \\
        [--baseline-src ../wt-base/src] [--rounds 200]

Both servers (one uvicorn worker each, answer cache on, compactor running) serve the same
generated database, up at the same time: this code on --port, the baseline (the same entry
point run with PYTHONPATH=--baseline-src, e.g. a `git worktree` of main) on --port + 1, on
--baseline-database-url if given (a copy of the same database). Each
round, for each scenario and each server in turn (A B A B ...): one task is registered and
reported completed through that server (two writes, created now: today's rollups), then the
scenario is read once ("after write", timed, after --settle seconds) and once more ("hit",
timed). Times are client wall-clock over one keep-alive connection (http.client), so both
sides pay the same client overhead; the database's CPU per request is not separated here
(see bench/analytics_reads.py).
Results are appended to bench/results/analytics-after-write.json.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from bench import system
from bench.run import HERE, stop

SCENARIOS = {
    "summary": "/api/analytics/summary",
    "histogram-30d": "/api/analytics/costs/histogram?granularity=day&days=30",
    "performance": "/api/analytics/performance?days=30",
    "performance-by-model": "/api/analytics/performance?days=30&group_by=model",
    # A window of closed days, which a task created now cannot change: what a read pays for
    # the write's own after-effects in the server, with the answer itself cached.
    "histogram-closed": "/api/analytics/costs/histogram?granularity=day"
    "&from=2026-11-01T00:00:00Z&to=2026-11-20T00:00:00Z",
}
_JSON = {"content-type": "application/json"}


def start(port: int, database_url: str) -> subprocess.Popen[bytes]:
    """`dashboard-api run` (1 worker, rate limits off) of whatever PYTHONPATH names, up."""
    env = dict(os.environ) | system.RATE_LIMITS_OFF
    env |= {"DASHBOARD_DATABASE_URL": database_url, "DASHBOARD_LOG_LEVEL": "warning"}
    command = [str(Path(sys.executable).parent / "dashboard-api"), "run", "--no-migrate"]
    command += ["--workers", "1", "--port", str(port)]
    process = subprocess.Popen(command, env=env, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                return process
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            if process.poll() is not None:
                raise SystemExit(f"the server on {port} exited with {process.returncode}") from None
            time.sleep(0.3)
    stop(process)
    raise SystemExit(f"the server on {port} did not answer /health within 60 s")


def _call(client: http.client.HTTPConnection, method: str, path: str, body: object = None) -> bytes:
    payload = None if body is None else json.dumps(body)
    client.request(method, path, body=payload, headers=_JSON if body is not None else {})
    response = client.getresponse()
    data = response.read()
    assert response.status < 300, (method, path, response.status, data[:200])
    return data


def _write(client: http.client.HTTPConnection, serial: int) -> None:
    task = json.loads(_call(client, "POST", "/api/tasks", {"agent_type": "code-review"}))
    done = {
        "status": "completed",
        "model": "claude-sonnet-4",
        "input_tokens": 1000 + serial % 97,
        "output_tokens": 200,
    }
    _call(client, "PATCH", f"/api/tasks/{task['task_id']}", done)


def _timed(client: http.client.HTTPConnection, path: str) -> float:
    began = time.perf_counter()
    _call(client, "GET", path)
    return (time.perf_counter() - began) * 1e6


def measure(args: argparse.Namespace) -> dict[str, dict[str, dict[str, list[float]]]]:
    servers: dict[str, object] = {}
    baseline_env = os.environ.get("PYTHONPATH")
    servers["this"] = start(args.port, args.database_url)
    try:
        if args.baseline_src:
            os.environ["PYTHONPATH"] = str(Path(args.baseline_src).resolve())
            try:
                servers["baseline"] = start(
                    args.port + 1, args.baseline_database_url or args.database_url
                )
            finally:
                if baseline_env is None:
                    os.environ.pop("PYTHONPATH", None)
                else:
                    os.environ["PYTHONPATH"] = baseline_env
        ports = {"this": args.port, "baseline": args.port + 1}
        clients = {
            name: http.client.HTTPConnection("127.0.0.1", ports[name], timeout=30)
            for name in servers
        }
        times: dict[str, dict[str, dict[str, list[float]]]] = {
            name: {scenario: {"after_write": [], "hit": []} for scenario in SCENARIOS}
            for name in servers
        }
        serial = 0
        for round_number in range(args.warmup + args.rounds):
            for scenario, path in SCENARIOS.items():
                for name, client in clients.items():
                    serial += 1
                    _write(client, serial)
                    if args.settle:
                        time.sleep(args.settle)
                    after = _timed(client, path)
                    hit = _timed(client, path)
                    if round_number >= args.warmup:
                        times[name][scenario]["after_write"].append(after)
                        times[name][scenario]["hit"].append(hit)
            if args.pause:
                time.sleep(args.pause)
        for client in clients.values():
            client.close()
        return times
    finally:
        for process in servers.values():
            stop(process)  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--baseline-src", help="src directory of the code to compare against")
    parser.add_argument(
        "--baseline-database-url",
        help="a copy of the database for the baseline (CREATE DATABASE ... TEMPLATE ...): a "
        "release before revision 0012 compacts without the rollup blocks, and this code's "
        "compactor would refill them after every one of its compactions",
    )
    parser.add_argument("--port", type=int, default=5140, help="the baseline uses port + 1")
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--pause", type=float, default=0.0, help="seconds between rounds")
    parser.add_argument(
        "--settle", type=float, default=0.0, help="seconds between the write and the read"
    )
    args = parser.parse_args()
    before = os.getloadavg()
    times = measure(args)
    print(f"load average before {before}, after {os.getloadavg()}; {args.rounds} rounds")
    print("| scenario | server | after write p50 | p90 | hit p50 |")
    print("|---|---|---|---|---|")
    for scenario in SCENARIOS:
        for name, by_scenario in times.items():
            after = sorted(by_scenario[scenario]["after_write"])
            hit = by_scenario[scenario]["hit"]
            print(
                f"| {scenario} | {name} | {statistics.median(after) / 1000:.2f} ms | "
                f"{after[int(len(after) * 0.9)] / 1000:.2f} ms | "
                f"{statistics.median(hit) / 1000:.2f} ms |"
            )
    out = HERE / "results" / "analytics-after-write.json"
    out.parent.mkdir(exist_ok=True)
    previous = json.loads(out.read_text()) if out.exists() else []
    conditions = {**system.conditions(), "load_average_before": before, "rounds": args.rounds}
    previous.append({"conditions": conditions, "times_us": times})
    out.write_text(json.dumps(previous, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
