"""Drive the real service and its floor with wrk on the conversations and webhook data.

    .venv/bin/python -m bench.conversations_generate     # once (about 10 minutes)
    .venv/bin/python -m bench.conversations_run [--duration 15] [--connections 32]

Scenarios: the first page of GET /api/conversations, a page 1,000 pages deep in it, a deep page
of messages (after the 30th message of a random conversation, 20 messages), and
GET /api/webhooks/stats over all 1,000,000 events. The real server listens on --port and the
floor on --port + 1, one uvicorn worker each; runs alternate between them (see `measure`).
Results go to bench/results/conversations.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

import asyncpg

from bench import system
from bench.run import encode_cursor, stop, wrk

HERE = Path(__file__).parent
DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/dashboard_bench_conversations"
SCENARIOS = ("conversations", "conversations_deep", "messages_deep", "webhook_stats")
PAGE = 50
MESSAGE_PAGE = 20
MESSAGE_OFFSET = 30


async def fixtures(url: str, sample: int, deep_pages: int) -> dict[str, object]:
    connection = await asyncpg.connect(url)
    try:
        deep = await connection.fetchrow(
            "SELECT updated_at, conversation_id FROM conversations "
            "ORDER BY updated_at DESC, conversation_id DESC OFFSET $1 LIMIT 1",
            PAGE * deep_pages - 1,
        )
        positions = await connection.fetch(
            "SELECT m.conversation_id, m.created_at, m.message_id FROM "
            "(SELECT conversation_id FROM conversations ORDER BY md5(conversation_id) LIMIT $1) c "
            "JOIN LATERAL (SELECT * FROM messages WHERE conversation_id = c.conversation_id "
            "ORDER BY created_at, message_id OFFSET $2 LIMIT 1) m ON true",
            sample,
            MESSAGE_OFFSET - 1,
        )
        return {
            "deep": (deep["updated_at"], deep["conversation_id"]),
            "positions": [tuple(row) for row in positions],
            "rows": {
                "conversations": await connection.fetchval("SELECT count(*) FROM conversations"),
                "messages": await connection.fetchval("SELECT count(*) FROM messages"),
                "webhook_events": await connection.fetchval("SELECT count(*) FROM webhook_events"),
                "webhook_rollup_rows": await connection.fetchval(
                    "SELECT count(*) FROM webhook_rollups"
                ),
            },
            "postgres": await connection.fetchval("SHOW server_version"),
        }
    finally:
        await connection.close()


def paths(server: str, data: dict) -> dict[str, str]:
    updated_at, conversation_id = data["deep"]
    if server == "real":
        deep = urlencode({"limit": PAGE, "cursor": encode_cursor(updated_at, conversation_id)})
    else:
        deep = urlencode(
            {
                "limit": PAGE,
                "updated_at": updated_at.isoformat(),
                "conversation_id": conversation_id,
            }
        )
    return {
        "conversations": f"/api/conversations?limit={PAGE}",
        "conversations_deep": f"/api/conversations?{deep}",
        "messages_deep": message_path(server, *data["positions"][0]),
        "webhook_stats": "/api/webhooks/stats",
    }


def message_path(server: str, conversation_id: str, created_at: object, message_id: str) -> str:
    if server == "real":
        query = {"limit": MESSAGE_PAGE, "cursor": encode_cursor(created_at, message_id)}  # type: ignore[arg-type]
    else:
        query = {
            "limit": MESSAGE_PAGE,
            "created_at": created_at.isoformat(),
            "message_id": message_id,
        }  # type: ignore[attr-defined]
    return f"/api/conversations/{conversation_id}/messages?{urlencode(query)}"


def start(server: str, port: int, database_url: str) -> subprocess.Popen[bytes]:
    bin_dir = Path(sys.executable).parent
    env = dict(os.environ)
    if server == "real":
        command = [str(bin_dir / "dashboard-api"), "run", "--no-migrate", "--workers", "1"]
        env.update(DASHBOARD_DATABASE_URL=database_url, DASHBOARD_LOG_LEVEL="warning")
        env.update(system.RATE_LIMITS_OFF)
    else:
        command = [sys.executable, "-m", "uvicorn", "bench.conversations_floor:app"]
        command += ["--no-access-log", "--host", "127.0.0.1", "--log-level", "warning"]
        env["BENCH_DATABASE_URL"] = database_url.replace("+asyncpg", "")
    process = subprocess.Popen([*command, "--port", str(port)], env=env, start_new_session=True)
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
    raise SystemExit(f"{server} did not answer /health on port {port}")


def check(port: int, path: str, scenario: str, data: dict) -> None:
    """One request before loading: 200, and the rows the scenario must show."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as response:
        body = json.loads(response.read())
    if scenario == "messages_deep" and len(body["items"]) != MESSAGE_PAGE:
        raise SystemExit(f"deep message page on port {port} has {len(body['items'])} rows")
    if scenario == "webhook_stats":
        # The floor returns the raw per-status sums (numeric, rendered as strings).
        total = sum(int(item.get("total", item.get("events", 0))) for item in body["items"])
        if total != data["rows"]["webhook_events"]:
            raise SystemExit(f"stats on port {port} count {total} events")


def measure(data: dict, args: argparse.Namespace, ids: dict[str, str]) -> list:
    """Both servers up at once (an idle one costs nothing); each scenario runs on one then the
    other, `--rounds` times, so that the noise of a shared machine falls on both alike. The
    best round of each server is kept."""
    ports = {"real": args.port, "floor": args.port + 1}
    processes = {server: start(server, ports[server], args.database_url) for server in args.servers}
    results = []
    try:
        for scenario in args.scenarios:
            # Stats are measured for latency (the target is a p50): few connections, no queue.
            load = args
            if scenario == "webhook_stats":
                load = argparse.Namespace(**{**vars(args), "connections": args.stats_connections})
            for server in args.servers:
                route = paths(server, data)[scenario]
                check(ports[server], route, scenario, data)
                id_file = ids[server] if scenario == "messages_deep" else None
                wrk(ports[server], route, load, args.warmup, id_file)
            best: dict[str, dict] = {}
            for _ in range(args.rounds):
                for server in args.servers:
                    route = paths(server, data)[scenario]
                    id_file = ids[server] if scenario == "messages_deep" else None
                    cpu = system.group_cpu_seconds(processes[server].pid)
                    stats = wrk(ports[server], route, load, args.duration, id_file)
                    cpu = system.group_cpu_seconds(processes[server].pid) - cpu
                    stats["server_cpu_us"] = cpu * 1e6 / max(1, stats["requests"])
                    if server not in best or stats["rps"] > best[server]["rps"]:
                        best[server] = stats
            for server, stats in best.items():
                results.append({"server": server, "workers": 1, "scenario": scenario, **stats})
                print(
                    f"{server:5} {scenario:18} {stats['rps']:8.0f} req/s  "
                    f"p50 {stats['p50_us'] / 1000:6.2f} ms  p99 {stats['p99_us'] / 1000:6.2f} ms  "
                    f"server cpu {stats['server_cpu_us']:5.0f} us/req  "
                    f"non-2xx {stats['non_2xx_3xx']}  socket errors {stats['socket_errors']}",
                    flush=True,
                )
    finally:
        for process in processes.values():
            stop(process)
    return results


def table(results: list[dict]) -> str:
    by = {(r["server"], r["scenario"]): r for r in results}
    lines = [
        "| scenario | service req/s | floor req/s | service / floor | service p50 / p99 ms "
        "| floor p50 / p99 ms | server CPU µs/req service / floor |",
        "|---|---|---|---|---|---|---|",
    ]
    for scenario in SCENARIOS:
        real, floor = by.get(("real", scenario)), by.get(("floor", scenario))
        if real is None or floor is None:
            continue
        lines.append(
            f"| {scenario} | {real['rps']:,.0f} | {floor['rps']:,.0f} "
            f"| {real['rps'] / floor['rps']:.0%} "
            f"| {real['p50_us'] / 1000:.2f} / {real['p99_us'] / 1000:.2f} "
            f"| {floor['p50_us'] / 1000:.2f} / {floor['p99_us'] / 1000:.2f} "
            f"| {real['server_cpu_us']:,.0f} / {floor['server_cpu_us']:,.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--port", type=int, default=5170)
    parser.add_argument("--scenarios", nargs="+", choices=SCENARIOS, default=list(SCENARIOS))
    parser.add_argument(
        "--servers", nargs="+", choices=("real", "floor"), default=["real", "floor"]
    )
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--stats-connections", type=int, default=2)
    parser.add_argument("--sample", type=int, default=2_000)
    parser.add_argument("--deep-pages", type=int, default=1_000)
    args = parser.parse_args()
    plain = args.database_url.replace("postgresql+asyncpg://", "postgresql://")
    data = asyncio.run(fixtures(plain, args.sample, args.deep_pages))
    os.environ["BENCH_PREFIX"] = ""  # the id files hold whole paths
    with tempfile.TemporaryDirectory() as scratch:
        ids = {}
        for server in ("real", "floor"):
            ids[server] = str(Path(scratch) / f"{server}.paths")
            lines = [message_path(server, *position) for position in data["positions"]]
            Path(ids[server]).write_text("\n".join(lines) + "\n")
        results = measure(data, args, ids)
    print()
    print(table(results))
    out = HERE / "results" / "conversations.json"
    out.parent.mkdir(exist_ok=True)
    settings = {k: getattr(args, k) for k in ("threads", "connections", "duration", "warmup")}
    settings |= {"rounds": args.rounds, "stats_connections": args.stats_connections}
    report = {
        "conditions": {
            **system.conditions(),
            "postgres": data["postgres"],
            "rows": data["rows"],
            "workers": 1,
            **settings,
        },
        "results": results,
    }
    out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
