"""CPU and instructions per request of the task reads, driven in-process (no server, no wrk).

    .venv/bin/python -m bench.profile_request --database-url postgresql+asyncpg://...  \
        [--apps service litestar asgi] [--scenarios get list deep] [--requests 4000]
    .venv/bin/python -m bench.profile_request ... --instructions     # under callgrind

Three apps answer the same requests on the same data and the same pool size (20):
- `service`: the real app (`create_app`, rate limits off, log level warning, as `bench.run`);
- `litestar`: a bare Litestar app whose handlers run the one asyncpg query (`bench.floor_app`'s
  handlers) on a pool that does nothing on release;
- `asgi`: a bare ASGI callable: the one asyncpg query, `msgspec` encoding, no framework.

Each request is an ASGI call from 8 concurrent drivers in one uvloop loop, as a server would
make it (minus the HTTP parsing, the same for all three). Reported per request: the CPU time of
this process, and of the PostgreSQL backends serving the database (read from /proc). With
`--instructions` each (app, scenario) runs under `valgrind --tool=callgrind` twice, with and
without the measured requests: the difference divided by the requests is the instruction count
per request of this process, which another load on the machine does not move.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import asyncpg
import msgspec

from bench.floor_app import ONE, first_page, next_page

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/dashboard_bench"
POOL_SIZE = int(os.environ.get("BENCH_POOL_SIZE", "20"))  # the service's default
PAGE = 50
CONCURRENCY = 8

App = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


async def _no_reset(_connection: asyncpg.Connection) -> None:
    """The pool does nothing on release: the service's pool does not either."""


async def _pool(url: str) -> asyncpg.Pool:
    return await asyncpg.create_pool(
        url.replace("+asyncpg", ""), min_size=POOL_SIZE, max_size=POOL_SIZE, reset=_no_reset
    )


class AsgiFloor:
    """The least an answer needs: route by path, one query, msgspec encoding."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.pool: asyncpg.Pool | None = None
        self.encode = msgspec.json.Encoder(decimal_format="number").encode

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send, self._start, self._stop)
            return
        assert self.pool is not None
        path: str = scope["path"]
        if path.startswith("/api/tasks/"):
            row = await self.pool.fetchrow(ONE, path[11:])
            status, body = (200, self.encode(dict(row))) if row else (404, b"{}")
        else:
            query = dict(part.split("=", 1) for part in scope["query_string"].decode().split("&"))
            limit = int(query.get("limit", PAGE))
            if "created_at" in query:
                created_at = datetime.fromisoformat(unquote(query["created_at"]))
                rows = await self.pool.fetch(next_page(limit), created_at, query["task_id"])
            else:
                rows = await self.pool.fetch(first_page(limit))
            status = 200
            body = self.encode({"items": [dict(row) for row in rows], "next_cursor": None})
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def _start(self) -> None:
        self.pool = await _pool(self.url)

    async def _stop(self) -> None:
        assert self.pool is not None
        await self.pool.close()


async def _lifespan(
    receive: Any,
    send: Any,
    start: Callable[[], Awaitable[None]],
    stop: Callable[[], Awaitable[None]],
) -> None:
    await receive()
    await start()
    await send({"type": "lifespan.startup.complete"})
    await receive()
    await stop()
    await send({"type": "lifespan.shutdown.complete"})


def litestar_floor(url: str) -> App:
    """`bench.floor_app`'s handlers, on a pool that does nothing on release."""
    from contextlib import asynccontextmanager

    from litestar import Litestar, get
    from litestar.exceptions import NotFoundException

    state: dict[str, asyncpg.Pool] = {}

    @asynccontextmanager
    async def lifespan(_: Litestar) -> Any:
        state["pool"] = await _pool(url)
        try:
            yield
        finally:
            await state["pool"].close()

    @get("/api/tasks/{task_id:str}")
    async def get_task(task_id: str) -> dict[str, Any]:
        row = await state["pool"].fetchrow(ONE, task_id)
        if row is None:
            raise NotFoundException()
        return dict(row)

    @get("/api/tasks")
    async def list_tasks(
        limit: int = 50, created_at: datetime | None = None, task_id: str | None = None
    ) -> dict[str, Any]:
        if created_at is not None and task_id is not None:
            rows = await state["pool"].fetch(next_page(limit), created_at, task_id)
        else:
            rows = await state["pool"].fetch(first_page(limit))
        return {"items": [dict(row) for row in rows], "next_cursor": None}

    return Litestar(route_handlers=[get_task, list_tasks], lifespan=[lifespan])


def service(url: str) -> App:
    from dashboard_api.http.app import create_app
    from dashboard_api.http.logs import configure_logging
    from dashboard_api.settings import Settings

    settings = Settings.from_env(
        {
            "DASHBOARD_DATABASE_URL": url,
            "DASHBOARD_LOG_LEVEL": "warning",
            "DASHBOARD_RATE_LIMIT_READ_PER_MINUTE": "0",
            "DASHBOARD_RATE_LIMIT_WRITE_PER_MINUTE": "0",
            "DASHBOARD_RATE_LIMIT_INGEST_PER_MINUTE": "0",
            "DASHBOARD_WS_MAX_CONNECTIONS_PER_CLIENT": "0",
        }
    )
    configure_logging(settings)
    return create_app(settings, freeze_gc=True)


def encode_cursor(created_at: datetime, task_id: str) -> str:
    raw = msgspec.json.encode([created_at, task_id])
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


_FIXTURES: dict[str, dict[str, Any]] = {}


async def fixtures(url: str) -> dict[str, Any]:
    """1,000 random ids and the position of page 10,000, read once per process."""
    if url not in _FIXTURES:
        _FIXTURES[url] = await _read_fixtures(url)
    return _FIXTURES[url]


async def _read_fixtures(url: str) -> dict[str, Any]:
    connection = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        ids = await connection.fetch("SELECT task_id FROM tasks ORDER BY md5(task_id) LIMIT 1000")
        deep = await connection.fetchrow(
            "SELECT created_at, task_id FROM tasks ORDER BY created_at DESC, task_id DESC "
            "OFFSET $1 LIMIT 1",
            PAGE * 10_000 - 1,
        )
    finally:
        await connection.close()
    assert deep is not None, "the deep page needs 500,000 tasks"
    return {"ids": [row["task_id"] for row in ids], "deep": (deep["created_at"], deep["task_id"])}


def targets(app_name: str, scenario: str, data: dict[str, Any]) -> list[tuple[str, bytes]]:
    if scenario == "get":
        return [(f"/api/tasks/{task_id}", b"") for task_id in data["ids"]]
    if scenario == "list":
        return [("/api/tasks", f"limit={PAGE}".encode())]
    created_at, task_id = data["deep"]
    if app_name == "service":
        query = f"limit={PAGE}&cursor={encode_cursor(created_at, task_id)}"
    else:
        query = f"limit={PAGE}&created_at={created_at.isoformat()}&task_id={task_id}"
    return [("/api/tasks", query.replace("+", "%2B").encode())]


def _scope(path: str, query: bytes) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query,
        "headers": [(b"host", b"127.0.0.1:5000"), (b"accept", b"*/*")],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 5000),
        "state": {},
        "extensions": {},
    }


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _request(app: App, path: str, query: bytes) -> int:
    status = 0

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(_scope(path, query), _receive, send)
    return status


async def drive(app: App, requests: list[tuple[str, bytes]], count: int) -> None:
    async def driver(offset: int) -> None:
        for index in range(offset, count, CONCURRENCY):
            path, query = requests[index % len(requests)]
            status = await _request(app, path, query)
            if status != 200:
                raise SystemExit(f"{path}?{query.decode()} answered {status}")

    await asyncio.gather(*(driver(offset) for offset in range(CONCURRENCY)))


async def _backend_pids(url: str) -> list[int]:
    database = url.rsplit("/", 1)[1]
    connection = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        rows = await connection.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            database,
        )
    finally:
        await connection.close()
    return [row["pid"] for row in rows]


def _cpu_seconds(pids: list[int]) -> float:
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


async def _with_lifespan(app: App, body: Callable[[], Awaitable[None]]) -> None:
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    await inbox.put({"type": "lifespan.startup"})
    task = asyncio.ensure_future(
        app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, inbox.get, outbox.put)
    )
    started = await outbox.get()
    assert started["type"] == "lifespan.startup.complete", started
    try:
        await body()
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        await outbox.get()
        await task


def build(app_name: str, url: str) -> App:
    if app_name == "service":
        return service(url)
    if app_name == "litestar":
        return litestar_floor(url)
    return AsgiFloor(url)


async def measure(
    app_name: str, scenario: str, url: str, warmup: int, count: int, repeats: int
) -> list[tuple[float, float]]:
    """(process CPU µs, PostgreSQL CPU µs) per request, for each repeat."""
    data = await fixtures(url)
    app = build(app_name, url)
    requests = targets(app_name, scenario, data)
    results: list[tuple[float, float]] = []

    async def body() -> None:
        await drive(app, requests, warmup)
        pids = await _backend_pids(url)
        for _ in range(repeats):
            cpu, db = time.process_time(), _cpu_seconds(pids)
            await drive(app, requests, count)
            cpu, db = time.process_time() - cpu, _cpu_seconds(pids) - db
            results.append((cpu / count * 1e6, db / count * 1e6))

    await _with_lifespan(app, body)
    return results


def instructions(app_name: str, scenario: str, url: str, warmup: int, count: int) -> float:
    """Instructions of this process per request: two callgrind runs, with and without the
    measured requests, so start-up and warm-up cancel out."""
    totals = []
    for measured in (0, count):
        with tempfile.TemporaryDirectory() as directory:
            out = Path(directory) / "callgrind.out"
            command = [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={out}",
                sys.executable,
                "-m",
                "bench.profile_request",
                "--database-url",
                url,
                "--one",
                app_name,
                scenario,
                str(warmup),
                str(measured),
            ]
            run = subprocess.run(command, capture_output=True, text=True, check=False)
            found = re.search(r"Collected : (\d+)", run.stderr)
            if run.returncode != 0 or found is None:
                raise SystemExit(run.stderr[-2000:])
            totals.append(int(found.group(1)))
    return (totals[1] - totals[0]) / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--apps", nargs="+", default=["service", "litestar", "asgi"])
    parser.add_argument("--scenarios", nargs="+", default=["get", "list", "deep"])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--instructions", action="store_true", help="callgrind counts")
    parser.add_argument("--one", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    import uvloop

    if args.one:  # a child under callgrind: warm up, then the measured requests, nothing else
        app_name, scenario, warmup, count = args.one
        uvloop.run(_one(app_name, scenario, args.database_url, int(warmup), int(count)))
        return
    print(f"{datetime.now():%Y-%m-%d %H:%M} load average {os.getloadavg()[0]:.2f}")
    loop = uvloop.new_event_loop()
    for scenario in args.scenarios:
        for app_name in args.apps:
            if args.instructions:
                count = instructions(app_name, scenario, args.database_url, 300, args.requests)
                print(f"{scenario:5} {app_name:9} {count / 1000:8.1f} k instructions/request")
                continue
            runs = loop.run_until_complete(
                measure(
                    app_name, scenario, args.database_url, args.warmup, args.requests, args.repeats
                )
            )
            cpu = statistics.median(run[0] for run in runs)
            db = statistics.median(run[1] for run in runs)
            spread = f"{min(r[0] for r in runs):.0f}-{max(r[0] for r in runs):.0f}"
            print(
                f"{scenario:5} {app_name:9} process {cpu:6.1f} µs ({spread})  "
                f"PostgreSQL {db:6.1f} µs  total {cpu + db:6.1f} µs"
            )


async def _one(app_name: str, scenario: str, url: str, warmup: int, count: int) -> None:
    data = await fixtures(url)
    app = build(app_name, url)
    requests = targets(app_name, scenario, data)

    async def body() -> None:
        await drive(app, requests, warmup)
        if count:
            await drive(app, requests, count)

    await _with_lifespan(app, body)


if __name__ == "__main__":
    main()


def asgi_floor_app() -> AsgiFloor:
    """`uvicorn --factory bench.profile_request:asgi_floor_app`: the bare ASGI floor under a
    real server (BENCH_DATABASE_URL)."""
    return AsgiFloor(os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
