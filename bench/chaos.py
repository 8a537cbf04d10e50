"""Faults from outside (issue 9): the service checked as an outsider would, for minutes.

    .venv/bin/python -m bench.chaos [--seed 1] [--tasks 1500] [--rate 15] [--clients 6]
        [--faults kill,kill_all,redis,pg_fast,pg_immediate] [--every 6,14]

Starts a private PostgreSQL (initdb, port 5440) and a private `redis-server` without
persistence (port 6480), and two server processes (`python -m dashboard_api run`, replicas
`chaos-a` and `chaos-b` sharing the ingest consumer group) pointed at them. Then, at once:

- an engine (the engine SDK, `dashboard_engine.Engine`) starts `--rate` tasks a second, each
  `task.created`, `task.started`, a few live `output` pieces, then `task.completed` or
  `task.failed` with a cost of up to 6 decimals, one after the other, each with a stable event
  id; one in ten finishing events is sent twice (an engine retrying); an XADD that Redis
  refuses is retried with the same id; a few malformed events (not JSON, unknown type,
  missing fields, a NUL character) are sent on purpose;
- `--clients` WebSocket clients subscribed to `tasks` (half on each replica), which resume
  with `since` and `epoch` after any close, on whichever replica answers;
- a recorder reading the `tasks` channel's history stream (what was announced, in order);
- a watcher asking each server for `/ready` every 0.5 s, `/metrics` every 2 s, and REST reads;
- a REST writer (`--rest-rate` tasks a second, 0 for none) taking tasks through `POST`, a
  `running` `PATCH` and a `completed` `PATCH` on a random replica, each step retried on the
  other replica until answered (a 409 after a retry means the lost attempt committed);
- faults at random moments (`--every` seconds apart): SIGKILL one replica and restart it
  (`kill`), SIGKILL both and restart them (`kill_all`), Redis killed and started empty
  (`redis`), PostgreSQL stopped (`pg_fast`: `-m fast`, `pg_immediate`: `-m immediate`) and
  started again a few seconds later.

Redis runs with an append-only file, as production should (`redis_aof` stops it and starts
it again with its data); the `redis` fault kills it and removes its files, so it comes back
empty, and an event it took and lost before the API read it is lost with Redis (what
docs/realtime.md says persistence is for). Just before that kill (the engine held back
meanwhile) the script notes which entries the group had not yet acknowledged: only those may
be missing, and they are counted apart, as are the later events of their tasks that wait for
them.

At the end it counts: events sent against `processed_events` and the `tasks` rows (lost,
doubled, final status, version = number of applied events, cost to the micro-dollar, the
analytics summary against the rows), dead letters against the malformed events sent,
`/ready` during and after each outage, `/metrics` (ingest lag and dead letters), REST 500s,
and for each WebSocket client every announced event received or a notice (`recovered:
false`, an epoch change, a 1013 close) covering it, never a silent gap, never out of order;
every version of every task (the REST writer's too) announced.
Exits 1 on any loss, double, out-of-order, silent gap, 500 or readiness failure.
Results: bench/results/chaos-<seed>.json, server logs beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import msgspec
import websockets
from redis.asyncio import Redis

from bench.system import RATE_LIMITS_OFF
from dashboard_engine import Engine, EngineSettings

HERE = Path(__file__).parent
RESULTS = HERE / "results"
STREAM, GROUP, DEAD_LETTERS = "dashboard:ingest", "dashboard-api", "dashboard:ingest:rejected"
TASKS_HISTORY = "dashboard:history:tasks"
# An outage must be seen on /ready within this, and its end within RECOVERY.
DETECT, RECOVERY = 3.0, 45.0


def now() -> float:
    return time.time()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def entry_key(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


# -- private services ------------------------------------------------------------------------


class PrivateRedis:
    """With an append-only file (as production should run it), so that a restart can keep
    the data (`stop`, then `start`) or lose it (`kill` with `forget`, then `start`)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.process: subprocess.Popen[bytes] | None = None
        self.dir = Path(tempfile.mkdtemp(prefix="chaos-redis-"))

    async def start(self) -> None:
        binary = shutil.which("redis-server") or "redis-server"
        self.process = subprocess.Popen(  # noqa: ASYNC220  # returns at once
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes", "--appendfsync", "everysec", "--dir", str(self.dir)],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        client = Redis.from_url(self.url)
        try:
            for _ in range(200):
                try:
                    await client.ping()
                    return
                except Exception:  # refused until it listens
                    await asyncio.sleep(0.05)
            raise TimeoutError("redis-server did not start")
        finally:
            await client.aclose()

    def kill(self, *, forget: bool = True) -> None:
        """SIGKILL; with `forget`, its files go too: it comes back empty."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None
        if forget:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir.mkdir()

    def stop(self) -> None:
        """SIGTERM: Redis writes its append-only file and exits; `start` brings it all back."""
        if self.process is not None:
            self.process.terminate()
            self.process.wait()
            self.process = None


class PrivatePostgres:
    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"postgresql+asyncpg://postgres@127.0.0.1:{port}/postgres"
        self.dsn = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        self.dir = Path(tempfile.mkdtemp(prefix="chaos-pg-"))
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")

    def _run(self, *args: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *args], check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        self._run("initdb", "-D", str(self.dir / "data"), "-A", "trust", "-U", "postgres",
                  "--no-sync")  # fmt: skip
        self.ctl("start")

    def ctl(self, action: str, *extra: str) -> None:
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c max_connections=100"
        )
        self._run("pg_ctl", "-D", str(self.dir / "data"), "-w", "-t", "60", "-o", options,
                  "-l", str(self.dir / "server.log"), action, *extra)  # fmt: skip

    def remove(self) -> None:
        with contextlib.suppress(OSError, subprocess.CalledProcessError):
            self.ctl("stop", "-m", "immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


class Server:
    """One replica: a `dashboard-api run` process, restarted under the same name and port."""

    def __init__(self, name: str, env: dict[str, str], logs: Path) -> None:
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            **RATE_LIMITS_OFF,
            "DASHBOARD_LOG_LEVEL": "info",
            "DASHBOARD_INGEST_CONSUMER": name,
            **env,
        }
        self.logs = logs
        self.incarnation = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.up_since: float | None = None  # when /health first answered after the last start
        self.exits = 0  # times it exited by itself (and was started again)

    def start(self) -> None:
        self.incarnation += 1
        log = (self.logs / f"{self.name}-{self.incarnation}.log").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "dashboard_api", "run", "--port", str(self.port)],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.up_since = None

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.up_since = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    async def wait_up(self, http: httpx.AsyncClient, within: float = 120) -> None:
        deadline = now() + within
        while now() < deadline:
            if not self.alive:
                # As an orchestrator does: a process that exited (its database was down at
                # start) is started again, a second later.
                self.exits += 1
                await asyncio.sleep(1)
                self.start()
            try:
                if (await http.get(f"{self.url}/health", timeout=1)).status_code == 200:
                    self.up_since = now()
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
        raise TimeoutError(f"{self.name} did not start")


# -- the engine --------------------------------------------------------------------------------


@dataclass
class Sent:
    event_id: str
    task_id: str
    type: str
    payload: bytes
    accepted: float = 0.0  # when Redis took it (the last copy)
    copies: int = 0


@dataclass
class Plan:
    task_id: str
    finish: str  # task.completed or task.failed
    cost: Decimal
    duplicate: bool


class ChaosEngine:
    def __init__(self, redis_url: str, rng: random.Random, prefix: str) -> None:
        self.engine = Engine.from_settings(EngineSettings(redis_url=redis_url))
        self.rng = rng
        self.prefix = prefix
        self.gate = asyncio.Lock()  # held by a Redis fault while it notes the stream's state
        self.sent: dict[str, Sent] = {}
        self.plans: dict[str, Plan] = {}
        self.malformed: list[bytes] = []
        self.refusals = 0  # XADDs Redis refused (retried)
        self.output_refused = 0
        self.bursts: list[float] = []  # when each burst began

    async def _xadd(self, payload: bytes) -> None:
        while True:
            async with self.gate:
                try:
                    await self.engine._redis.xadd(STREAM, {"event": payload})
                    return
                except Exception:  # Redis down: the engine tries again, same event id
                    self.refusals += 1
            await asyncio.sleep(0.2)

    async def lifecycle(self, event_type: str, task_id: str, **fields: Any) -> None:
        event_id = f"{task_id}:{event_type}"
        # The SDK's wire format (dashboard_engine.Engine.lifecycle), sent through the gate.
        event = {**fields, "event_id": event_id, "type": event_type, "task_id": task_id}
        payload = msgspec.json.encode(event)
        record = self.sent.setdefault(event_id, Sent(event_id, task_id, event_type, payload))
        await self._xadd(payload)
        record.copies += 1
        record.accepted = now()

    async def task(self, n: int, *, quick: bool = False) -> None:
        rng = self.rng
        task_id = f"{self.prefix}{n}"
        plan = Plan(
            task_id,
            "task.failed" if rng.random() < 0.1 else "task.completed",
            Decimal(rng.randrange(1, 5_000_000)) / Decimal(10**6),
            rng.random() < 0.1,
        )
        self.plans[task_id] = plan
        gap = 0.0 if quick else rng.uniform(0.05, 0.4)
        await self.lifecycle("task.created", task_id, agent_type=f"agent-{n % 4}",
                             input_message=f"chaos task {n}", model="claude-sonnet-4")  # fmt: skip
        await asyncio.sleep(gap)
        await self.lifecycle("task.started", task_id)
        for piece in range(rng.randrange(0, 3)):
            await asyncio.sleep(gap / 2)
            try:
                await self.engine.output(task_id, f"piece {piece} ")
            except Exception:  # live output is not durable: a Redis outage refuses it
                self.output_refused += 1
        await asyncio.sleep(gap)
        fields: dict[str, Any] = {"cost_usd": str(plan.cost), "output_tokens": 10 + n % 50}
        if plan.finish == "task.failed":
            fields["error"] = "chaos: failed on purpose"
        else:
            fields["output"] = f"done {n}"
        await self.lifecycle(plan.finish, task_id, **fields)
        if plan.duplicate:  # a retry whose first reply was lost: the same event id again
            await self.lifecycle(plan.finish, task_id, **fields)

    async def send_malformed(self, k: int) -> None:
        bad = f"{self.prefix}bad-{k}"
        payload = [
            b"{not json",
            msgspec.json.encode({"event_id": f"{bad}:x", "type": "task.exploded", "task_id": bad}),
            msgspec.json.encode({"event_id": f"{bad}:c", "type": "task.created", "task_id": bad}),
            msgspec.json.encode(
                {
                    "event_id": f"{bad}:n",
                    "type": "task.created",
                    "task_id": bad,
                    "agent_type": "a\u0000b",
                }
            ),
        ][k % 4]
        self.malformed.append(payload)
        await self._xadd(payload)

    async def run(
        self, tasks: int, rate: float, malformed: int, burst: int, burst_every: float
    ) -> None:
        """`rate` tasks a second; every `burst_every` seconds, `burst` more at once (their
        events as fast as Redis takes them), so that a fault can land mid-batch."""
        start = now()
        running: set[asyncio.Task[None]] = set()
        bad_at = sorted(self.rng.sample(range(tasks), malformed))
        next_burst = start + burst_every if burst else float("inf")
        n = 0
        steady = 0
        while n < tasks:
            if now() >= next_burst:
                next_burst += burst_every
                self.bursts.append(now())
                count = min(burst, tasks - n)
            else:
                delay = min(start + steady / rate, next_burst) - now()
                if delay > 0:
                    await asyncio.sleep(delay)
                    continue
                steady += 1
                count = 1
            for _ in range(count):
                job = asyncio.create_task(self.task(n, quick=count > 1))
                running.add(job)
                job.add_done_callback(running.discard)
                while bad_at and bad_at[0] == n:
                    bad_at.pop(0)
                    await self.send_malformed(len(self.malformed))
                n += 1
        await asyncio.gather(*running)


# -- what was announced on `tasks` ------------------------------------------------------------


@dataclass
class Announced:
    """Every `task_status` the servers appended to the `tasks` history, read as it grows."""

    frames: dict[str, tuple[str, int, str]] = field(default_factory=dict)  # id -> task, v, status
    last: str = "0-0"
    epochs: list[str] = field(default_factory=list)

    def add(self, entries: list[Any]) -> None:
        for entry_id, fields in entries:
            event = json.loads(fields[b"event"])
            entry = text(entry_id)
            self.frames[entry] = (event["task_id"], int(event["version"]), event["status"])
            if entry_key(entry) > entry_key(self.last):
                self.last = entry

    async def follow(self, redis_url: str, stop: asyncio.Event) -> None:
        redis = Redis.from_url(redis_url)
        try:
            while not stop.is_set():
                try:
                    reply = await redis.xread({TASKS_HISTORY: self.last}, count=1000, block=500)
                    for _, entries in reply or []:
                        self.add(entries)
                except Exception:  # Redis down: read again when it is back
                    await asyncio.sleep(0.2)
        finally:
            await redis.aclose()

    async def snapshot(self, redis: Redis) -> None:
        self.add(await redis.xrange(TASKS_HISTORY, min=f"({self.last}"))


# -- WebSocket clients --------------------------------------------------------------------------


@dataclass
class WsClient:
    index: int
    servers: list[Server]
    received: list[str] = field(default_factory=list)  # frame ids, in arrival order
    told_before: list[bool] = field(default_factory=list)  # a notice since the previous frame
    told: bool = False  # a notice since the last frame
    versions: dict[str, int] = field(default_factory=dict)
    reordered: list[str] = field(default_factory=list)
    duplicates: int = 0
    repeated: int = 0
    notices: list[tuple[float, str]] = field(default_factory=list)
    closes: list[tuple[float, int | None]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    epoch: str | None = None
    connects: int = 0

    def notice(self, why: str) -> None:
        self.told = True
        self.notices.append((now(), why))

    def frame(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "subscribed":
            epoch = event.get("epoch")
            if not event.get("recovered", True):
                self.notice("recovered:false")
            elif self.epoch is not None and epoch != self.epoch:
                self.notice("epoch changed")  # (recovered:true with a new epoch: a notice too)
            self.epoch = epoch
        elif kind == "task_status":
            entry = event["id"]
            if self.received and entry_key(entry) <= entry_key(self.received[-1]):
                if entry in self.received[-50:]:
                    self.duplicates += 1
                else:
                    self.reordered.append(entry)
                return
            task, version = event["task_id"], int(event["version"])
            if version == self.versions.get(task, 0):
                self.repeated += 1  # the same change announced again (a new id)
            elif version < self.versions.get(task, 0):
                self.reordered.append(entry)
            self.versions[task] = max(version, self.versions.get(task, 0))
            self.received.append(entry)
            self.told_before.append(self.told)
            self.told = False
        elif kind == "error":
            self.errors.append(f"{event.get('code')}: {event.get('message', '')[:80]}")

    async def run(self, stop: asyncio.Event, ready: asyncio.Event) -> None:
        preferred = self.index % len(self.servers)
        attempt = 0
        while not stop.is_set():
            server = self.servers[(preferred + attempt) % len(self.servers)]
            attempt += 1
            if not server.alive or server.up_since is None:
                await asyncio.sleep(0.2)
                continue
            try:
                async with websockets.connect(
                    f"ws://127.0.0.1:{server.port}/ws", open_timeout=5, max_queue=None
                ) as ws:
                    self.connects += 1
                    await self.subscribe(ws)
                    ready.set()
                    resubscribe_at = float("inf")
                    while not stop.is_set():
                        try:
                            raw = await asyncio.wait_for(ws.recv(), timeout=0.5)
                        except TimeoutError:
                            if now() >= resubscribe_at:
                                resubscribe_at = float("inf")
                                await self.subscribe(ws)
                            continue
                        event = json.loads(raw)
                        self.frame(event)
                        if event.get("type") == "error" and event.get("code") == "bus_unavailable":
                            resubscribe_at = now() + 1.0  # not subscribed: ask again
                    attempt -= 1  # stopping: stay
                    await ws.close()
            except websockets.ConnectionClosed as exc:
                code = exc.rcvd.code if exc.rcvd is not None else None
                self.closes.append((now(), code))
                if code == 1013:
                    self.notice("closed 1013")
                attempt -= 1  # try the same server first (it may be back), then the other
            except (OSError, TimeoutError, websockets.InvalidHandshake, websockets.InvalidURI):
                await asyncio.sleep(0.2)

    async def subscribe(self, ws: Any) -> None:
        frame: dict[str, Any] = {"type": "subscribe", "channel": "tasks"}
        if self.received:
            frame["since"] = self.received[-1]
        elif self.epoch is not None:
            frame["since"] = "0-0"
        if self.epoch is not None:
            frame["epoch"] = self.epoch
        await ws.send(json.dumps(frame))

    def gaps(self, announced: list[str]) -> tuple[int, int]:
        """(silent, told): announced frames this client never received, with no notice
        between the frames it received around them, and with one."""
        silent = told = 0
        received = self.received
        keys = [entry_key(r) for r in received]
        have = set(received)
        for entry in announced:
            if entry in have:
                continue
            i = bisect.bisect_right(keys, entry_key(entry))
            covered = self.told_before[i] if i < len(received) else self.told
            if covered:
                told += 1
            else:
                silent += 1
        return silent, told


# -- the watcher ----------------------------------------------------------------------------------


@dataclass
class Fault:
    kind: str
    start: float
    end: float = 0.0  # when the service it broke answers again (a server: /health)
    outage: bool = False  # ingestion cannot progress meanwhile (Redis or PostgreSQL down)
    ready_200_during: int = 0
    ready_seen_down: float | None = None  # first 503 from a live server after start
    recovered_at: float | None = None  # every live server /ready 200 again
    notes: dict[str, Any] = field(default_factory=dict)


METRIC = re.compile(rb"^(dashboard_ingest_\w+) ([0-9.e+-]+)$", re.M)


@dataclass
class Watcher:
    servers: list[Server]
    ready: list[tuple[float, str, int | str]] = field(default_factory=list)  # sent at
    answered: list[float] = field(default_factory=list)  # when each of `ready` was answered
    metrics: list[tuple[float, str, dict[str, float]]] = field(default_factory=list)
    rest: dict[str, int] = field(default_factory=dict)
    five_hundreds: list[str] = field(default_factory=list)
    unavailable: list[float] = field(default_factory=list)  # when each REST 503 came

    async def run(self, stop: asyncio.Event, task_ids: list[str]) -> None:
        rng = random.Random(0)
        tick = 0
        async with httpx.AsyncClient(timeout=15) as http:
            while not stop.is_set():
                tick += 1
                await asyncio.gather(
                    *(self.probe(http, s, tick, rng, task_ids) for s in self.servers if s.alive)
                )
                await asyncio.sleep(0.5)

    async def probe(
        self, http: httpx.AsyncClient, server: Server, tick: int, rng: random.Random,
        task_ids: list[str],
    ) -> None:  # fmt: skip
        if server.up_since is None:
            return
        sent = now()
        try:
            code: int | str = (await http.get(f"{server.url}/ready")).status_code
        except httpx.HTTPError as exc:
            code = type(exc).__name__
        self.ready.append((sent, server.name, code))
        self.answered.append(now())
        if tick % 4:
            return
        try:
            body = (await http.get(f"{server.url}/metrics")).content
            self.metrics.append(
                (now(), server.name, {m.decode(): float(v) for m, v in METRIC.findall(body)})
            )
        except httpx.HTTPError:
            pass
        paths = ["/api/tasks?limit=20", "/api/analytics/summary", "/api/status"]
        if task_ids:
            paths.append(f"/api/tasks/{rng.choice(task_ids)}")
        for path in paths:
            try:
                response = await http.get(f"{server.url}{path}")
            except httpx.HTTPError as exc:
                self.rest[type(exc).__name__] = self.rest.get(type(exc).__name__, 0) + 1
                continue
            key = str(response.status_code)
            self.rest[key] = self.rest.get(key, 0) + 1
            if response.status_code == 503:
                self.unavailable.append(now())
            if response.status_code >= 500 and response.status_code != 503:
                self.five_hundreds.append(f"{server.name} {path}: {response.text[:300]}")
            if response.status_code == 503 and "problem+json" not in response.headers.get(
                "content-type", ""
            ):
                self.five_hundreds.append(f"{server.name} {path}: 503 not a problem document")


@dataclass
class RestWriter:
    """Tasks taken through their lifecycle over REST while the faults happen: what a REST
    change commits must be announced too (the API outbox, docs/realtime.md)."""

    servers: list[Server]
    prefix: str
    done: int = 0
    retries: int = 0
    answers: dict[str, int] = field(default_factory=dict)
    five_hundreds: list[str] = field(default_factory=list)

    async def run(self, stop: asyncio.Event, rate: float, rng: random.Random) -> None:
        if rate <= 0:
            return
        async with httpx.AsyncClient(timeout=15) as http:
            jobs: list[asyncio.Task[None]] = []
            n = 0
            while not stop.is_set():
                jobs.append(asyncio.create_task(self.task(http, f"{self.prefix}rest-{n}", rng)))
                n += 1
                await asyncio.sleep(1 / rate)
            await asyncio.gather(*jobs)

    async def task(self, http: httpx.AsyncClient, task_id: str, rng: random.Random) -> None:
        steps: list[tuple[str, str, dict[str, Any]]] = [
            ("POST", "/api/tasks", {"task_id": task_id, "agent_type": "chaos-rest"}),
            ("PATCH", f"/api/tasks/{task_id}", {"status": "running"}),
            ("PATCH", f"/api/tasks/{task_id}", {"status": "completed", "cost_usd": "0.012345"}),
        ]
        for method, path, body in steps:
            await self.step(http, method, path, body, rng)
            await asyncio.sleep(rng.uniform(0.05, 0.5))
        self.done += 1

    async def step(
        self, http: httpx.AsyncClient, method: str, path: str, body: dict[str, Any],
        rng: random.Random,
    ) -> None:  # fmt: skip
        retried = False
        for _ in range(600):  # a few minutes at most: every outage of the run is shorter
            up = [s for s in self.servers if s.alive and s.up_since is not None]
            if not up:
                await asyncio.sleep(0.5)
                continue
            server = rng.choice(up)
            try:
                response = await http.request(method, f"{server.url}{path}", json=body)
            except httpx.HTTPError as exc:
                self.answers[type(exc).__name__] = self.answers.get(type(exc).__name__, 0) + 1
                retried = True
                self.retries += 1
                await asyncio.sleep(0.3)
                continue
            code = response.status_code
            self.answers[str(code)] = self.answers.get(str(code), 0) + 1
            if code in (200, 201) or (code == 409 and retried):
                return
            if code >= 500 and code != 503:
                self.five_hundreds.append(f"{server.name} {method} {path}: {response.text[:300]}")
            retried = True
            self.retries += 1
            await asyncio.sleep(0.3)
        self.five_hundreds.append(f"{method} {path}: never answered")


# -- the run ------------------------------------------------------------------------------------


class Chaos:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.rng = random.Random(args.seed)
        RESULTS.mkdir(exist_ok=True)
        self.logs = Path(tempfile.mkdtemp(prefix=f"chaos-{args.seed}-", dir=RESULTS))
        self.redis = PrivateRedis(args.redis_port)
        self.pg = PrivatePostgres(args.pg_port)
        env = {
            "DASHBOARD_DATABASE_URL": self.pg.url,
            "DASHBOARD_REDIS_URL": self.redis.url,
            "DASHBOARD_INGEST_LEASE_MS": str(args.lease_ms),
            "DASHBOARD_DB_POOL_SIZE": "8",
            "DASHBOARD_DB_CONNECT_TIMEOUT_SECONDS": "2",
            "DASHBOARD_DB_STATEMENT_TIMEOUT_SECONDS": "5",
        }
        self.servers = [Server(f"chaos-{n}", env, self.logs) for n in ("a", "b")]
        self.prefix = f"c{args.seed}-"
        self.engine: ChaosEngine | None = None
        self.announced = Announced()
        self.faults: list[Fault] = []
        self.at_risk: set[str] = set()  # event ids Redis held unacknowledged when it was killed
        self.at_risk_payloads: set[bytes] = set()
        self.dead_letters: list[bytes] = []  # read before each Redis kill, and at the end
        self.watcher = Watcher(self.servers)
        self.rest_writer = RestWriter(self.servers, self.prefix)
        self.http = httpx.AsyncClient(timeout=10)
        self.t0 = now()

    def say(self, message: str) -> None:
        print(f"[{now() - self.t0:7.1f}s] {message}", file=sys.stderr, flush=True)

    async def restart_server(self, server: Server, after: float) -> None:
        await asyncio.sleep(after)
        server.start()
        await server.wait_up(self.http)

    async def inject(self, kind: str) -> Fault:
        fault = Fault(kind, now())
        self.faults.append(fault)
        rng = self.rng
        if kind == "kill":
            victim = rng.choice([s for s in self.servers if s.alive] or self.servers)
            fault.notes["server"] = victim.name
            victim.kill()
            self.say(f"SIGKILL {victim.name}")
            await self.restart_server(victim, rng.uniform(0, 3))
        elif kind == "kill_all":
            for server in self.servers:
                server.kill()
            self.say("SIGKILL every replica")
            await asyncio.gather(*(self.restart_server(s, rng.uniform(0, 3)) for s in self.servers))
        elif kind == "redis":
            fault.outage = True
            down = rng.uniform(1, 6)
            await self.kill_redis()
            self.say(f"Redis killed, its data lost, down {down:.1f}s")
            await asyncio.sleep(down)
            fault.end = now()
            await self.redis.start()
        elif kind == "kill_at_commit":
            # The lease holder SIGKILLed the moment a batch of its commits (the marks table
            # grows): between its commit and its announcements, or its acknowledgement.
            db = await asyncpg.connect(self.pg.dsn)
            redis = Redis.from_url(self.redis.url)
            try:
                holder = text(await redis.get(f"{STREAM}:lease:{GROUP}") or b"").split("/")[0]
                victim = next((s for s in self.servers if s.name == holder), self.servers[0])
                count = await db.fetchval("SELECT count(*) FROM processed_events")
                deadline = now() + 15
                while now() < deadline:
                    if await db.fetchval("SELECT count(*) FROM processed_events") > count:
                        break
                fault.notes["server"] = victim.name
                victim.kill()
            finally:
                await db.close()
                await redis.aclose()
            self.say(f"SIGKILL {victim.name} (lease holder) as a batch committed")
            await self.restart_server(victim, rng.uniform(0, 2))
        elif kind == "redis_aof":
            fault.outage = True
            down = rng.uniform(1, 6)
            self.redis.stop()
            self.say(f"Redis stopped (its data kept), down {down:.1f}s")
            await asyncio.sleep(down)
            fault.end = now()
            await self.redis.start()
        elif kind == "kill_pg":  # a replica killed while PostgreSQL is down, started again
            fault.outage = True
            down = rng.uniform(3, 8)
            await asyncio.to_thread(self.pg.ctl, "stop", "-m", "immediate")
            victim = rng.choice(self.servers)
            fault.notes["server"] = victim.name
            victim.kill()
            self.say(f"PostgreSQL stopped (immediate) and SIGKILL {victim.name}, {down:.1f}s")
            restarting = asyncio.create_task(self.restart_server(victim, rng.uniform(0, 1)))
            await asyncio.sleep(down)
            fault.end = now()
            await asyncio.to_thread(self.pg.ctl, "start")
            await restarting
        elif kind in ("pg_fast", "pg_immediate"):
            fault.outage = True
            down = rng.uniform(2, 8)
            mode = kind.removeprefix("pg_")
            await asyncio.to_thread(self.pg.ctl, "stop", "-m", mode)
            self.say(f"PostgreSQL stopped ({mode}), down {down:.1f}s")
            await asyncio.sleep(down)
            fault.end = now()
            await asyncio.to_thread(self.pg.ctl, "start")
        fault.end = fault.end or now()  # an outage: when the service was started again
        self.say(f"{kind} over after {now() - fault.start:.1f}s")
        return fault

    async def kill_redis(self) -> None:
        """Note what Redis holds that the API has not acknowledged, then kill it: the engine
        is held back meanwhile, so nothing it sends falls between the two."""
        assert self.engine is not None
        redis = Redis.from_url(self.redis.url)
        async with self.engine.gate:
            try:
                await self.announced.snapshot(redis)
                self.dead_letters += [f[b"event"] for _, f in await redis.xrange(DEAD_LETTERS)]
                groups = await redis.xinfo_groups(STREAM)
                group = next((g for g in groups if text(g["name"]) == GROUP), None)
                delivered = text(group["last-delivered-id"]) if group else "0-0"
                pending = await redis.xpending_range(STREAM, GROUP, "-", "+", 1_000_000)
                unread = await redis.xrange(STREAM, min=f"({delivered}")
                taken = {text(p["message_id"]) for p in pending}
                held = await redis.xrange(STREAM) if taken else []
                for entry_id, fields in [*unread, *(e for e in held if text(e[0]) in taken)]:
                    del entry_id
                    self.at_risk_payloads.add(fields[b"event"])
                    with contextlib.suppress(ValueError, KeyError, TypeError):
                        self.at_risk.add(json.loads(fields[b"event"])["event_id"])
            except Exception as exc:  # a snapshot that failed: every unapplied event is suspect
                self.say(f"could not read Redis before killing it: {exc!r}")
            finally:
                await redis.aclose()
            self.redis.kill()

    async def faults_loop(self, stop: asyncio.Event) -> None:
        low, high = self.args.every
        kinds = self.args.faults
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=self.rng.uniform(low, high))
                return
            except TimeoutError:
                pass
            if self.engine is not None and self.engine.bursts and self.rng.random() < 0.5:
                # Land this one while a burst is being ingested.
                seen = len(self.engine.bursts)
                while len(self.engine.bursts) == seen and not stop.is_set():  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
                await asyncio.sleep(self.rng.uniform(0, 1.5))
                if stop.is_set():
                    return
            await self.inject(self.rng.choice(kinds))

    async def main(self) -> int:
        args = self.args
        self.say(f"logs in {self.logs}")
        await self.redis.start()
        await asyncio.to_thread(self.pg.init)
        try:
            return await self._run(args)
        finally:
            for server in self.servers:
                server.stop()
            self.redis.kill()
            shutil.rmtree(self.redis.dir, ignore_errors=True)
            await asyncio.to_thread(self.pg.remove)
            await self.http.aclose()

    async def _run(self, args: argparse.Namespace) -> int:
        self.servers[0].start()  # the first migrates; the second waits for it
        await self.servers[0].wait_up(self.http)
        self.servers[1].start()
        await self.servers[1].wait_up(self.http)
        self.say("both replicas up")
        self.engine = ChaosEngine(self.redis.url, random.Random(args.seed * 7 + 1), self.prefix)
        stop_clients, stop_watch, stop_faults = asyncio.Event(), asyncio.Event(), asyncio.Event()
        clients = [WsClient(n, self.servers) for n in range(args.clients)]
        subscribed = [asyncio.Event() for _ in clients]
        client_jobs = [
            asyncio.create_task(c.run(stop_clients, e))
            for c, e in zip(clients, subscribed, strict=True)
        ]
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in subscribed)), 30)
        await asyncio.sleep(1)  # the subscriptions confirmed
        recorder = asyncio.create_task(self.announced.follow(self.redis.url, stop_watch))
        task_ids = [f"{self.prefix}{n}" for n in range(args.tasks)]
        watcher = asyncio.create_task(self.watcher.run(stop_watch, task_ids[:200]))
        faults = asyncio.create_task(self.faults_loop(stop_faults))
        stop_rest = asyncio.Event()
        rest = asyncio.create_task(
            self.rest_writer.run(stop_rest, args.rest_rate, random.Random(args.seed * 11 + 3))
        )
        sending_started = now()
        await self.engine.run(args.tasks, args.rate, args.malformed, args.burst, args.burst_every)
        sending_seconds = now() - sending_started
        self.say(f"engine done: {len(self.engine.sent)} events in {sending_seconds:.0f}s")
        stop_rest.set()
        stop_faults.set()
        await faults
        await rest
        self.say(f"REST writer done: {self.rest_writer.done} tasks")
        # Every replica up again, then wait for ingestion to settle.
        for server in self.servers:
            if not server.alive:
                server.start()
            if server.up_since is None:
                await server.wait_up(self.http)
        settled = await self.settle()
        await asyncio.sleep(3)  # the last announcements reach the clients
        await self.announced.snapshot(Redis.from_url(self.redis.url))
        await self.wait_clients(clients)
        stop_clients.set()
        await asyncio.gather(*client_jobs, return_exceptions=True)
        stop_watch.set()
        await asyncio.gather(recorder, watcher)
        report = await self.account(clients, settled, sending_seconds)
        path = RESULTS / f"chaos-{args.seed}.json"
        path.write_text(json.dumps(report, indent=1, default=str))
        self.print_summary(report)
        self.say(f"results in {path}")
        return 1 if report["failures"] else 0

    async def settle(self, within: float = 180) -> bool:
        """Until every event that can be applied is (pending and undelivered 0 but for the
        events waiting for one lost with Redis), or `within` passes."""
        assert self.engine is not None
        db = await asyncpg.connect(self.pg.dsn)
        redis = Redis.from_url(self.redis.url)
        deadline = now() + within
        try:
            while now() < deadline:
                rows = await db.fetch(
                    "SELECT event_id FROM processed_events WHERE event_id LIKE $1",
                    self.prefix + "%",
                )
                applied = {r["event_id"] for r in rows}
                lost_tasks = {
                    s.task_id
                    for e, s in self.engine.sent.items()
                    if e in self.at_risk and e not in applied
                }
                missing = {
                    e
                    for e, s in self.engine.sent.items()
                    if e not in applied and e not in self.at_risk and s.task_id not in lost_tasks
                }
                try:
                    pending = (await redis.xpending(STREAM, GROUP))["pending"]
                except Exception:
                    pending = -1
                if not missing and pending <= self.waiting_allowed(rows):
                    return True
                await asyncio.sleep(1)
            return False
        finally:
            await db.close()
            await redis.aclose()

    def waiting_allowed(self, rows: list[Any]) -> int:
        """Entries that may stay pending: those behind an event lost with Redis."""
        assert self.engine is not None
        applied = {r["event_id"] for r in rows}
        lost_tasks = {
            s.task_id for e, s in self.engine.sent.items() if e in self.at_risk and e not in applied
        }
        return sum(
            s.copies
            for e, s in self.engine.sent.items()
            if s.task_id in lost_tasks and e not in applied and e not in self.at_risk
        )

    async def wait_clients(self, clients: list[WsClient], within: float = 30) -> None:
        deadline = now() + within
        last = self.announced.last
        while now() < deadline:
            if all(
                (c.received and entry_key(c.received[-1]) >= entry_key(last)) or c.told
                for c in clients
            ):
                return
            await asyncio.sleep(0.5)

    # -- accounting --------------------------------------------------------------------------

    async def account(
        self, clients: list[WsClient], settled: bool, sending_seconds: float
    ) -> dict[str, Any]:
        assert self.engine is not None
        engine = self.engine
        failures: list[str] = []
        db = await asyncpg.connect(self.pg.dsn)
        redis = Redis.from_url(self.redis.url)
        try:
            marks = {
                r["event_id"]
                for r in await db.fetch(
                    "SELECT event_id FROM processed_events WHERE event_id LIKE $1",
                    self.prefix + "%",
                )
            }
            rows = {
                r["task_id"]: r
                for r in await db.fetch(
                    "SELECT task_id, status, version, cost_micros, started_at, completed_at"
                    " FROM tasks WHERE task_id LIKE $1",
                    self.prefix + "%",
                )
            }
            count, micros = await db.fetchrow(
                "SELECT count(*), coalesce(sum(cost_micros), 0) FROM tasks"
            )
            self.dead_letters += [f[b"event"] for _, f in await redis.xrange(DEAD_LETTERS)]
            pending = (await redis.xpending(STREAM, GROUP))["pending"]
        finally:
            await db.close()
            await redis.aclose()
        summary = (await self.http.get(f"{self.servers[0].url}/api/analytics/summary")).json()
        final_metrics = await self.final_metrics(failures, pending)

        # Events: applied once, or lost with Redis (and the events waiting behind those).
        good = {e: s for e, s in engine.sent.items()}
        lost_with_redis = {e for e in good if e not in marks and e in self.at_risk}
        blocked_tasks = {good[e].task_id for e in lost_with_redis}
        lost = sorted(
            e for e, s in good.items()
            if e not in marks and e not in self.at_risk and s.task_id not in blocked_tasks
        )  # fmt: skip
        waiting = sorted(
            e for e, s in good.items()
            if e not in marks and e not in self.at_risk and s.task_id in blocked_tasks
        )  # fmt: skip
        if lost:
            failures.append(f"{len(lost)} events lost: {lost[:10]}")
        unknown_marks = marks - set(good)
        if unknown_marks:
            failures.append(f"marks of events never sent: {sorted(unknown_marks)[:10]}")

        # Tasks: final status, one version per applied event, cost to the micro-dollar.
        wrong: list[str] = []
        expected_micros = stored_micros = 0
        for task_id, plan in engine.plans.items():
            steps = [
                f"{task_id}:task.created",
                f"{task_id}:task.started",
                f"{task_id}:{plan.finish}",
            ]
            applied_steps = [s for s in steps if s in marks]
            row = rows.get(task_id)
            if task_id in blocked_tasks:
                if row is not None and row["version"] != len(applied_steps):
                    wrong.append(f"{task_id}: version {row['version']}, {applied_steps}")
                continue
            if row is None:
                wrong.append(f"{task_id}: no row")
                continue
            status = plan.finish.removeprefix("task.")
            if row["status"] != status or row["version"] != 3:
                wrong.append(f"{task_id}: {row['status']} v{row['version']} (want {status} v3)")
            expected_micros += int(plan.cost * 10**6)
            stored_micros += int(row["cost_micros"] or 0)
            if row["started_at"] is None or row["completed_at"] < row["started_at"]:
                wrong.append(
                    f"{task_id}: started {row['started_at']} completed {row['completed_at']}"
                )
        if wrong:
            failures.append(f"{len(wrong)} tasks wrong: {wrong[:10]}")
        if expected_micros != stored_micros:
            failures.append(f"cost {stored_micros / 1e6} stored, {expected_micros / 1e6} sent")
        summary_ok = (
            summary.get("total_tasks") == count
            and Decimal(str(summary.get("total_cost_usd"))) == Decimal(micros) / 10**6
        )
        if not summary_ok:
            failures.append(f"analytics summary {summary} vs rows {count}, {micros / 1e6}")

        # Dead letters: exactly the malformed events (those Redis did not lose).
        refused = [d for d in self.dead_letters if d not in engine.malformed]
        if refused:
            failures.append(f"{len(refused)} well-formed events dead-lettered: {refused[:5]}")
        malformed_missing = [
            m
            for m in engine.malformed
            if m not in self.dead_letters and m not in self.at_risk_payloads
        ]

        # Readiness: 503 during each outage (after DETECT), 200 again after.
        readiness = self.readiness(failures)

        # WebSocket clients: every announced frame received, or a notice covering it.
        announced = sorted(self.announced.frames, key=entry_key)
        per_task: dict[str, set[int]] = {}
        for task, version, _ in self.announced.frames.values():
            per_task.setdefault(task, set()).add(version)
        never_announced = sorted(
            f"{t}@v{v}"
            for t, row in rows.items()
            for v in range(1, row["version"] + 1)
            if v not in per_task.get(t, set())
        )
        # Excused only by a Redis that lost its data: every client is then told (the history
        # epoch changes); otherwise a change committed and never announced is a silent gap.
        if never_announced and not any(f.kind == "redis" for f in self.faults):
            failures.append(
                f"{len(never_announced)} changes never announced: {never_announced[:10]}"
            )
        ws: list[dict[str, Any]] = []
        for client in clients:
            silent, told = client.gaps(announced)
            ws.append(
                {
                    "received": len(client.received), "silent_gaps": silent, "told_gaps": told,
                    "reordered": len(client.reordered), "duplicates": client.duplicates,
                    "repeated_versions": client.repeated,
                    "notices": client.notices, "closes": client.closes,
                    "connects": client.connects, "errors": client.errors[:10],
                }
            )  # fmt: skip
            if silent:
                failures.append(
                    f"ws client {client.index}: {silent} announced events silently missed"
                )
            if client.reordered:
                failures.append(f"ws client {client.index}: {len(client.reordered)} out of order")
        if self.watcher.five_hundreds:
            failures.append(
                f"{len(self.watcher.five_hundreds)} 5xx: {self.watcher.five_hundreds[:5]}"
            )
        if self.rest_writer.five_hundreds:
            failures.append(f"REST writer: {self.rest_writer.five_hundreds[:5]}")
        rest_rows = [r for t, r in rows.items() if t.startswith(f"{self.prefix}rest-")]
        rest_wrong = [
            f"{r['task_id']}: {r['status']} v{r['version']}"
            for r in rest_rows
            if r["status"] != "completed" or r["version"] != 3
        ]
        if len(rest_rows) != self.rest_writer.done or rest_wrong:
            failures.append(
                f"REST writer: {self.rest_writer.done} tasks done, {len(rest_rows)} rows,"
                f" wrong: {rest_wrong[:5]}"
            )
        unhandled, tracebacks = self.logged_errors()
        if unhandled:
            failures.append(f"unhandled errors in server logs: {unhandled[:5]}")
        last_metrics = {name: m for _, name, m in self.watcher.metrics}
        return {
            "seed": self.args.seed,
            "conditions": {
                "date_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(self.t0)),
                "load_average": os.getloadavg(),
                "command": " ".join(sys.argv),
            },
            "sent": {
                "events": len(good),
                "copies": sum(s.copies for s in good.values()),
                "tasks": len(engine.plans),
                "malformed": len(engine.malformed),
                "xadd_refused_retried": engine.refusals,
                "output_refused": engine.output_refused,
                "seconds": round(sending_seconds, 1),
                "bursts": len(engine.bursts),
            },
            "applied": len(marks & set(good)),
            "lost": lost,
            "lost_with_redis": sorted(lost_with_redis),
            "waiting_behind_lost": waiting,
            "pending_at_end": pending,
            "settled": settled,
            "dead_letters": len(self.dead_letters),
            "malformed_not_dead_lettered": len(malformed_missing),
            "cost": {"sent_micros": expected_micros, "stored_micros": stored_micros},
            "never_announced": never_announced[:50],
            "never_announced_count": len(never_announced),
            "announced": len(announced),
            "faults": [f.__dict__ for f in self.faults],
            "readiness": readiness,
            "metrics_last": last_metrics,
            "metrics": final_metrics,
            "rest": self.watcher.rest,
            "rest_writer": {
                "tasks": self.rest_writer.done,
                "retries": self.rest_writer.retries,
                "answers": self.rest_writer.answers,
            },
            "server_exits": {s.name: s.exits for s in self.servers},
            # REST 503s outside every outage (and the 10 s after it): a pooled connection the
            # restart dropped fails one request (docs/design.md), anything else is news.
            "rest_503_outside_outages": sum(
                1
                for t in self.watcher.unavailable
                if not any(f.outage and f.start <= t <= f.end + 10 for f in self.faults)
            ),
            "tracebacks_logged": tracebacks,
            "ws": ws,
            "failures": failures,
        }

    async def final_metrics(self, failures: list[str], pending: int) -> dict[str, Any]:
        """Each replica's ingest gauges once settled (they are read every 2 s) against the
        stream itself: pending entries, none undelivered, the dead-letter stream's length,
        one leader, every replica healthy."""
        await asyncio.sleep(5)
        redis = Redis.from_url(self.redis.url)
        try:
            dead = await redis.xlen(DEAD_LETTERS)
        finally:
            await redis.aclose()
        seen: dict[str, dict[str, float]] = {}
        for server in self.servers:
            body = (await self.http.get(f"{server.url}/metrics")).content
            seen[server.name] = {m.decode(): float(v) for m, v in METRIC.findall(body)}
        expected = {
            "dashboard_ingest_pending": pending,
            "dashboard_ingest_undelivered": 0,
            "dashboard_ingest_dead_letters": dead,
            "dashboard_ingest_healthy": 1,
        }
        for name, gauges in seen.items():
            wrong = {k: gauges.get(k) for k, v in expected.items() if gauges.get(k) != v}
            if wrong:
                failures.append(f"/metrics of {name}: {wrong}, expected {expected}")
        leaders = [n for n, g in seen.items() if g.get("dashboard_ingest_leading") == 1]
        if len(leaders) != 1:
            failures.append(f"ingest leaders at the end: {leaders}")
        elif seen[leaders[0]].get("dashboard_ingest_waiting") != pending:
            failures.append(f"dashboard_ingest_waiting {seen[leaders[0]]} vs {pending} pending")
        ages = [
            m.get("dashboard_ingest_oldest_pending_age_seconds", 0)
            for *_, m in self.watcher.metrics
        ]
        return {"final": seen, "max_oldest_pending_age_seconds": max(ages, default=0)}

    def readiness(self, failures: list[str]) -> list[dict[str, Any]]:
        out = []
        samples = self.watcher.ready
        for fault in self.faults:
            if not fault.outage:
                continue
            # Asked DETECT after the outage began, answered before the service was started
            # again (a request a busy server answers later may see it back).
            during = [
                (t, name, code)
                for (t, name, code), answered in zip(samples, self.watcher.answered, strict=True)
                if fault.start + DETECT <= t and answered <= fault.end
            ]
            ok_during = [s for s in during if s[2] == 200]
            after = [(t, name, code) for t, name, code in samples if t > fault.end]
            # Every replica's /ready 200 again: the first time each answers 200 after the end.
            back: dict[str, float] = {}
            for t, name, code in after:
                if code == 200 and name not in back:
                    back[name] = t
            recovered = max(back.values()) - fault.end if len(back) == len(self.servers) else None
            entry = {
                "kind": fault.kind, "down_seconds": round(fault.end - fault.start, 1),
                "samples_during": len(during), "ready_200_during": len(ok_during),
                "ready_again_after_seconds": None if recovered is None else round(recovered, 1),
            }  # fmt: skip
            out.append(entry)
            if ok_during:
                failures.append(f"/ready 200 during {fault.kind} outage: {ok_during[:3]}")
            if recovered is None or recovered > RECOVERY:
                failures.append(f"/ready not 200 on every replica {RECOVERY}s after {fault.kind}")
        return out

    def logged_errors(self) -> tuple[list[str], dict[str, int]]:
        """Requests that failed unhandled (a 500), and the tracebacks logged, by what logged
        them (background loops log theirs during an outage)."""
        unhandled: list[str] = []
        tracebacks: dict[str, int] = {}
        for log in sorted(self.logs.glob("*.log")):
            previous = ""
            for line in log.read_text(errors="replace").splitlines():
                if "unhandled error" in line.lower():
                    unhandled.append(f"{log.name}: {line[:200]}")
                if line.startswith("Traceback") and previous:  # (not a chained one)
                    what = re.sub(r"^\S+ \[\w+ *\] ", "", previous)[:60]
                    tracebacks[what] = tracebacks.get(what, 0) + 1
                previous = line
        return unhandled, tracebacks

    def print_summary(self, report: dict[str, Any]) -> None:
        sent = report["sent"]
        lines = [
            f"seed {report['seed']}: {sent['tasks']} tasks, {sent['events']} events "
            f"({sent['copies']} copies, {sent['malformed']} malformed) in {sent['seconds']}s",
            f"faults: {', '.join(f['kind'] for f in report['faults'])}",
            f"applied once: {report['applied']}; lost: {len(report['lost'])}; lost with Redis "
            f"(no AOF): {len(report['lost_with_redis'])}, waiting behind them: "
            f"{len(report['waiting_behind_lost'])}; pending at end {report['pending_at_end']}",
            f"dead letters {report['dead_letters']} (malformed sent {sent['malformed']}, "
            f"not dead-lettered {report['malformed_not_dead_lettered']})",
            f"cost sent {report['cost']['sent_micros'] / 1e6} stored "
            f"{report['cost']['stored_micros'] / 1e6}",
            f"announced on tasks {report['announced']}; changes never announced "
            f"{report['never_announced_count']}",
            f"readiness: {report['readiness']}",
            f"/metrics: largest oldest-pending age seen "
            f"{report['metrics']['max_oldest_pending_age_seconds']:.1f}s; at the end "
            + "; ".join(
                f"{name}: pending {g.get('dashboard_ingest_pending')}, dead letters "
                f"{g.get('dashboard_ingest_dead_letters')}, "
                f"leading {g.get('dashboard_ingest_leading')}"
                for name, g in report["metrics"]["final"].items()
            ),
            f"REST: {report['rest']} (503 outside outages: {report['rest_503_outside_outages']});"
            f" tracebacks logged: {report['tracebacks_logged']}",
        ]
        for n, client in enumerate(report["ws"]):
            lines.append(
                f"ws {n}: received {client['received']}, silent gaps {client['silent_gaps']}, "
                f"told gaps {client['told_gaps']}, reordered {client['reordered']}, dup "
                f"{client['duplicates']}, repeated {client['repeated_versions']}, notices "
                f"{len(client['notices'])}, connects {client['connects']}"
            )
        lines.append("FAILURES:" if report["failures"] else "no failures")
        lines += [f"  - {f}" for f in report["failures"]]
        print("\n".join(lines), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--tasks", type=int, default=1500)
    parser.add_argument("--rate", type=float, default=15.0, help="tasks started per second")
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument(
        "--rest-rate", type=float, default=3.0, help="tasks a second taken through REST (0: none)"
    )
    parser.add_argument("--malformed", type=int, default=8)
    parser.add_argument(
        "--faults", type=lambda v: v.split(","),
        default=[
            "kill", "kill_at_commit", "kill_all", "redis", "redis_aof", "pg_fast", "pg_immediate",
            "kill_pg",
        ],
    )  # fmt: skip
    parser.add_argument(
        "--every", type=lambda v: tuple(float(x) for x in v.split(",")), default=(6.0, 14.0)
    )
    parser.add_argument("--burst", type=int, default=600, help="tasks per burst (0: none)")
    parser.add_argument("--burst-every", type=float, default=12.0)
    parser.add_argument("--lease-ms", type=int, default=3000)
    parser.add_argument("--redis-port", type=int, default=6480)
    parser.add_argument("--pg-port", type=int, default=5440)
    args = parser.parse_args()
    sys.exit(asyncio.run(Chaos(args).main()))


if __name__ == "__main__":
    main()
