"""Drive the real service and its floors with wrk on the conversations and webhook data,
interleaved (bench/harness.py, as bench/run.py does for the task API).

    nice -n 10 .venv/bin/python -m bench.conversations_generate [--database-url URL]  # once
    .venv/bin/python -m bench.conversations_run [--database-url URL] [--rounds 6]
        [--duration 5] [--contenders service floor bare] [--servers uvicorn granian]

Scenarios: the first page of GET /api/conversations, a page 1,000 pages deep in it, a deep page
of messages (after the 30th message of a random conversation, 20 messages), and
GET /api/webhooks/stats over all 1,000,000 events (2 connections: its target is a p50).

Every contender is up at once on its own port (from --port on), one worker each: the service
(`dashboard-api run`, DASHBOARD_SERVER per --servers) and the floors of
bench/conversations_floor.py (`floor`: bare Litestar, `bare`: a bare ASGI callable; asyncpg +
msgspec on the service's pool size, no reset round trip) under the same servers. Each (scenario,
contender) pair is warmed up, then every round runs each pair for --duration seconds, the order
rotated by one each round, so the two sides of a comparison are seconds apart. Each run records
wrk's figures and the CPU per request of the server's processes and of the PostgreSQL backends
of the bench database. Tables: medians with min-max, and per-round ratios. Results go to
bench/results/conversations.json (--out).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import shutil
import tempfile
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import asyncpg

from bench import harness, system
from bench.run import encode_cursor, wrk
from dashboard_api.adapters.sqlalchemy.migrate import upgrade

HERE = Path(__file__).parent
DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/dashboard_bench_conversations"
SCENARIOS = ("conversations", "conversations_deep", "messages_deep", "webhook_stats")
FLOORS = {"floor": "bench.conversations_floor:app", "bare": "bench.conversations_floor:bare"}
KEYS = ("scenario",)
PAGE = 50
MESSAGE_PAGE = 20
MESSAGE_OFFSET = 30


async def fixtures(url: str, sample: int, deep_pages: int) -> dict[str, Any]:
    connection = await asyncpg.connect(url)
    try:
        deep = await connection.fetch(
            "SELECT updated_at, conversation_id FROM conversations "
            "ORDER BY updated_at DESC, conversation_id DESC OFFSET $1 LIMIT 2",
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
            "deep": (deep[0]["updated_at"], deep[0]["conversation_id"]),  # last row shown
            "deep_first": deep[1]["conversation_id"],  # the first row the deep page must show
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


def paths(is_service: bool, data: dict[str, Any]) -> dict[str, str]:
    """The scenarios' paths: the service's cursors, or the floors' plain keyset parameters."""
    updated_at, conversation_id = data["deep"]
    if is_service:
        deep = urlencode({"limit": PAGE, "cursor": encode_cursor(updated_at, conversation_id)})
    else:
        after = {"updated_at": updated_at.isoformat(), "conversation_id": conversation_id}
        deep = urlencode({"limit": PAGE, **after})
    return {
        "conversations": f"/api/conversations?limit={PAGE}",
        "conversations_deep": f"/api/conversations?{deep}",
        "messages_deep": message_path(is_service, *data["positions"][0]),
        "webhook_stats": "/api/webhooks/stats",
    }


def message_path(
    is_service: bool, conversation_id: str, created_at: datetime, message_id: str
) -> str:
    if is_service:
        query = {"limit": MESSAGE_PAGE, "cursor": encode_cursor(created_at, message_id)}
    else:
        after = {"created_at": created_at.isoformat(), "message_id": message_id}
        query = {"limit": MESSAGE_PAGE, **after}
    return f"/api/conversations/{conversation_id}/messages?{urlencode(query)}"


def check(port: int, path: str, scenario: str, data: dict[str, Any]) -> None:
    """One request before loading: 200, and the rows the scenario must show."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as response:
        body = json.loads(response.read())
    items = body["items"]
    wrong = None
    if scenario.startswith("conversations") and (len(items) != PAGE or not body["next_cursor"]):
        wrong = f"{len(items)} rows, next cursor {body['next_cursor']!r}"
    elif scenario == "conversations_deep" and items[0]["conversation_id"] != data["deep_first"]:
        wrong = f"starts at {items[0]['conversation_id']}, not {data['deep_first']}"
    elif scenario == "messages_deep" and len(items) != MESSAGE_PAGE:
        wrong = f"{len(items)} rows, not {MESSAGE_PAGE}"
    elif scenario == "webhook_stats":
        # The floors return the raw per-status sums (numeric, rendered as strings).
        total = sum(int(item.get("total", item.get("events", 0))) for item in items)
        if total != data["rows"]["webhook_events"]:
            wrong = f"counts {total} events, not {data['rows']['webhook_events']}"
    if wrong:
        raise SystemExit(f"{scenario} on port {port}: {wrong}")


def _load(args: argparse.Namespace, scenario: str) -> argparse.Namespace:
    """Stats are measured for latency (the target is a p50): few connections, no queue."""
    if scenario != "webhook_stats":
        return args
    return argparse.Namespace(**{**vars(args), "connections": args.stats_connections})


def measure(
    args: argparse.Namespace, data: dict[str, Any], ids: dict[bool, str]
) -> list[dict[str, Any]]:
    found = harness.contenders(args.contenders, args.servers, args.port, None, FLOORS)
    routes = {c.name: paths(c.is_service, data) for c in found}
    slots = [(c, scenario) for scenario in args.scenarios for c in found]
    env, url = system.RATE_LIMITS_OFF, args.database_url
    with harness.running(found, 1, url, args.pool_size, env, args.startup) as database:
        for c, scenario in slots:
            check(c.port, routes[c.name][scenario], scenario, data)
            id_file = ids[c.is_service] if scenario == "messages_deep" else None
            wrk(c.port, routes[c.name][scenario], _load(args, scenario), args.warmup, id_file)
        run = functools.partial(_run, routes=routes, ids=ids, args=args, database=database)
        return harness.rounds(slots, args.rounds, run, args.quiet, args.quiet_wait)


def _run(
    slot: tuple[harness.Contender, str],
    index: int,
    *,
    routes: dict[str, dict[str, str]],
    ids: dict[bool, str],
    args: argparse.Namespace,
    database: harness.DatabaseCpu,
) -> dict[str, Any]:
    c, scenario = slot
    path, load = routes[c.name][scenario], _load(args, scenario)
    id_file = ids[c.is_service] if scenario == "messages_deep" else None
    stats = harness.measure(c, lambda: wrk(c.port, path, load, args.duration, id_file), database)
    print(
        f"{scenario:18} r{index} {c.name:16} {stats['rps']:7.0f} req/s  "
        f"p50 {stats['p50_us'] / 1000:6.2f} ms  p99 {stats['p99_us'] / 1000:6.2f} ms  "
        f"cpu us/req server {stats['server_cpu_us']:5.0f} db {stats['db_cpu_us']:5.0f}  "
        f"non-2xx {stats['non_2xx_3xx']}  socket errors {stats['socket_errors']}  "
        f"other load {stats['other_load']:.0%}  load avg {stats['load_average']:.1f}",
        flush=True,
    )
    return stats | {"scenario": scenario, "contender": c.name}


def against_floors(runs: list[dict[str, Any]]) -> str:
    """Per scenario, the service against each floor on its server, from per-round ratios:
    the floor's CPU per request over the service's (server + database, and server only; 100%
    is the floor's efficiency), and the service's requests/s over the floor's."""
    names = list(dict.fromkeys(r["contender"] for r in runs))
    lines = [
        "| scenario | service vs | floor's CPU / service's (server + db) | server only "
        "| req/s service / floor | p50 service / floor |",
        "|---|---|---|---|---|---|",
    ]
    for scenario in dict.fromkeys(r["scenario"] for r in runs):
        subset = [r for r in runs if r["scenario"] == scenario]
        for service, floor in harness.pairs(names):
            if not service.startswith("service@") or floor.partition("@")[0] not in FLOORS:
                continue
            ratio = functools.partial(harness.paired_ratios, subset, KEYS)
            total, server = (ratio(floor, service, m) for m in ("total_cpu_us", "server_cpu_us"))
            rps, p50 = ratio(service, floor, "rps"), ratio(service, floor, "p50_us")
            if total and server and rps and p50:
                lines.append(
                    f"| {scenario} | {floor} | {total.show('.0%')} | {server.show('.0%')} "
                    f"| {rps.show('.2f')} | {p50.show('.2f')} |"
                )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--port", type=int, default=5170, help="the first of the contenders' ports")
    parser.add_argument("--scenarios", nargs="+", choices=SCENARIOS, default=list(SCENARIOS))
    parser.add_argument(
        "--contenders", nargs="+", choices=harness.KINDS, default=["service", "floor"]
    )
    parser.add_argument("--servers", nargs="+", choices=harness.SERVERS, default=["uvicorn"])
    parser.add_argument("--duration", type=int, default=5, help="seconds measured per run")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of load per pair first")
    parser.add_argument("--rounds", type=int, default=6, help="runs per contender and scenario")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--stats-connections", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--pool-size", type=int, default=20, help="DASHBOARD_DB_POOL_SIZE, all")
    parser.add_argument("--quiet", type=float, default=0.15, help="CPU busy to wait below")
    parser.add_argument("--quiet-wait", type=int, default=20, help="max seconds waited per round")
    parser.add_argument("--startup", type=float, default=120, help="max seconds until /health")
    parser.add_argument("--sample", type=int, default=2_000, help="random message pages")
    parser.add_argument("--deep-pages", type=int, default=1_000)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "conversations.json")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: `apt-get install -y wrk` (as root), then rerun")

    # The schema moves on after the data was generated: the service serves it --no-migrate.
    upgrade(args.database_url)
    plain = args.database_url.replace("postgresql+asyncpg://", "postgresql://")
    data = asyncio.run(fixtures(plain, args.sample, args.deep_pages))
    conditions = {**system.conditions(), "postgres": data["postgres"], "rows": data["rows"]}
    os.environ["BENCH_PREFIX"] = ""  # the id files hold whole paths
    with tempfile.TemporaryDirectory() as scratch:
        ids = {}
        for is_service in (True, False):
            ids[is_service] = str(Path(scratch) / f"{'service' if is_service else 'floor'}.paths")
            lines = [message_path(is_service, *position) for position in data["positions"]]
            Path(ids[is_service]).write_text("\n".join(lines) + "\n")
        runs = measure(args, data, ids)
    conditions["load_average_end"] = os.getloadavg()
    summary = harness.summarize(runs, KEYS)
    settings = {k: getattr(args, k) for k in ("threads", "connections", "duration", "warmup")}
    settings |= {"rounds": args.rounds, "stats_connections": args.stats_connections}
    settings |= {"workers": 1, "pool_size": args.pool_size}
    report = {
        "conditions": conditions | settings,
        "runs": runs,
        "summary": harness.jsonable(summary, KEYS),
    }
    args.out.parent.mkdir(exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print()
    print(harness.figure_table(summary, KEYS))
    print()
    print(against_floors(runs))
    print(f"\nconditions: {conditions}\nwrote {args.out}")


if __name__ == "__main__":
    main()
