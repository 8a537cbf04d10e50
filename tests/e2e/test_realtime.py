"""The real server process, a real Redis of the test's own and a real WebSocket client library.

Each test drives the service the way a dashboard and an engine do: sockets on /ws, the engine
publisher on Redis, REST for the rest.
"""

from __future__ import annotations

import asyncio
import json
import socket as socket_module
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from dashboard_api.adapters.redis.bus import RedisEventBus
from dashboard_api.engine import EnginePublisher
from tests.e2e.conftest import Server
from tests.redis_support import PrivateRedis

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


def start_server(database_url: str, redis: PrivateRedis, **settings: str) -> Server:
    env = {"DASHBOARD_DATABASE_URL": database_url, "DASHBOARD_REDIS_URL": redis.url}
    server = Server({**env, **{f"DASHBOARD_{key.upper()}": v for key, v in settings.items()}})
    try:
        server.wait_ready(timeout=90)  # migrations and start-up on a loaded 2-core machine
    except Exception:
        server.stop()
        raise
    return server


@pytest.fixture
def realtime_server(e2e_database_url: str, private_redis: PrivateRedis) -> Iterator[Server]:
    server = start_server(e2e_database_url, private_redis)
    yield server
    server.stop()


@pytest.fixture
async def engine(private_redis: PrivateRedis) -> AsyncIterator[EnginePublisher]:
    publisher = EnginePublisher.from_url(private_redis.url)
    yield publisher
    await publisher.close()


def ws_url(server: Server) -> str:
    return server.url.replace("http://", "ws://") + "/ws"


async def request(socket: ClientConnection, **frame: Any) -> dict[str, Any]:
    await socket.send(json.dumps(frame))
    return await receive(socket)


async def receive(socket: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(socket.recv(), 15))
    return message


async def read_until_closed(socket: ClientConnection) -> ConnectionClosed:
    try:
        while True:
            await asyncio.wait_for(socket.recv(), 15)
    except ConnectionClosed as closed:
        return closed


def sequence(event_id: str) -> tuple[int, int]:
    millis, _, number = event_id.partition("-")
    return int(millis), int(number)


async def test_the_protocol_over_a_real_socket(
    realtime_server: Server, engine: EnginePublisher, private_redis: PrivateRedis
) -> None:
    async with connect(ws_url(realtime_server)) as socket:
        assert await request(socket, type="ping") == {"type": "pong"}
        assert (await request(socket, type="subscribe"))["code"] == "missing_channel"
        await socket.send(b"\x01\x02")
        assert (await receive(socket))["code"] == "binary_frame"
        assert (await request(socket, type="subscribe", channel="task:e1"))["type"] == "subscribed"
        event_id = await engine.output("e1", "hello ")
        output = await receive(socket)
        assert output == {
            "channel": "task:e1",
            "id": event_id,
            "type": "task_output",
            "task_id": "e1",
            "output": "hello ",
        }
        # A raw PUBLISH from any Redis client is delivered live too (without an id).
        raw = {"type": "task_output", "task_id": "e1", "output": "raw"}
        private_redis.client().publish("task:e1", json.dumps(raw))
        assert await receive(socket) == {"channel": "task:e1", **raw}
        reply = await request(socket, type="unsubscribe", channel="task:e1")
        assert reply == {"type": "unsubscribed", "channel": "task:e1"}


async def test_a_reconnecting_client_receives_what_it_missed_under_load(
    realtime_server: Server, engine: EnginePublisher
) -> None:
    task_id = uuid.uuid4().hex
    total = 400

    async def publish_all() -> None:
        for n in range(total):
            await engine.output(task_id, str(n))
            if n % 10 == 0:
                await asyncio.sleep(0.005)

    seen: list[dict[str, Any]] = []
    async with connect(ws_url(realtime_server)) as socket:
        await request(socket, type="subscribe", channel=f"task:{task_id}")
        publishing = asyncio.create_task(publish_all())
        while len(seen) < 50:
            seen.append(await receive(socket))
    # Disconnected while the engine keeps publishing; back with the last id it saw.
    await asyncio.sleep(0.05)
    async with connect(ws_url(realtime_server)) as socket:
        subscribed = await request(
            socket, type="subscribe", channel=f"task:{task_id}", since=seen[-1]["id"]
        )
        assert subscribed["type"] == "subscribed"
        while int(seen[-1]["output"]) < total - 1:
            seen.append(await receive(socket))
    await publishing
    outputs = [int(event["output"]) for event in seen]
    if outputs != list(range(total)):
        print("DBG", [(i, e["output"], e["id"]) for i, e in enumerate(seen) if 95 < i < 112])
    assert outputs == list(range(total))
    ids = [sequence(event["id"]) for event in seen]
    assert ids == sorted(set(ids))


async def dropped_slow_clients(server: Server) -> int:
    async with httpx.AsyncClient(base_url=server.url) as http:
        count: int = (await http.get("/api/status")).json()["realtime"]["dropped_slow_clients"]
        return count


async def test_a_slow_client_is_closed_with_1013_at_once_and_the_others_go_on(
    e2e_database_url: str, private_redis: PrivateRedis, engine: EnginePublisher
) -> None:
    server = start_server(e2e_database_url, private_redis, ws_send_queue="50")
    try:
        channel = f"task:{uuid.uuid4().hex}"
        # The slow client reads nothing for now, and its library and kernel buffer little.
        raw = socket_module.socket()
        raw.setsockopt(socket_module.SOL_SOCKET, socket_module.SO_RCVBUF, 4096)
        raw.connect(("127.0.0.1", server.port))
        raw.setblocking(False)
        slow = await connect(ws_url(server), sock=raw, max_queue=1, compression=None)
        async with connect(ws_url(server)) as fast:
            await slow.send(json.dumps({"type": "subscribe", "channel": channel}))
            await request(fast, type="subscribe", channel=channel)
            received, chunk = 0, "x" * 8000
            for n in range(1000):
                await engine.output(channel.removeprefix("task:"), f"{n}:{chunk}")
                if n % 20 == 19:
                    while received < n + 1:
                        assert int((await receive(fast))["output"].split(":")[0]) == received
                        received += 1
                    if await dropped_slow_clients(server) == 1:
                        break
            assert await dropped_slow_clients(server) == 1
            # It reads again at once: what the kernel held, then the close frame, in seconds.
            started = asyncio.get_running_loop().time()
            closed = await read_until_closed(slow)
            assert asyncio.get_running_loop().time() - started < 2
            assert closed.rcvd is not None
            assert closed.rcvd.code == 1013  # "try again later": the client may come back
            # The others go on.
            await engine.output(channel.removeprefix("task:"), "after")
            while (await receive(fast))["output"] != "after":
                pass
    finally:
        server.stop()


def _tcp_states(port: int) -> dict[int, str]:
    """State of each connection accepted on `port` (by remote port), from /proc/net/tcp."""
    states: dict[int, str] = {}
    with open("/proc/net/tcp") as table:
        for line in table.readlines()[1:]:
            local, remote, state = line.split()[1:4]
            if int(local.split(":")[1], 16) == port:
                states[int(remote.split(":")[1], 16)] = state
    return states


async def test_a_client_that_never_reads_is_aborted_when_the_close_frame_cannot_go_out(
    e2e_database_url: str, private_redis: PrivateRedis, engine: EnginePublisher
) -> None:
    server = start_server(
        e2e_database_url, private_redis, ws_send_queue="50", ws_close_timeout_seconds="1"
    )
    task_id = uuid.uuid4().hex
    stuck = socket_module.socket()
    try:
        stuck.setsockopt(socket_module.SOL_SOCKET, socket_module.SO_RCVBUF, 4096)
        stuck.connect(("127.0.0.1", server.port))
        stuck.settimeout(5)
        stuck.sendall(
            f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        response = b""
        while b"\r\n\r\n" not in response:
            response += stuck.recv(1)
        assert response.startswith(b"HTTP/1.1 101")
        stuck.sendall(masked_text(json.dumps({"type": "subscribe", "channel": f"task:{task_id}"})))
        local_port = stuck.getsockname()[1]
        async with connect(ws_url(server)) as fast:
            await request(fast, type="subscribe", channel=f"task:{task_id}")
            for n in range(1000):
                await engine.output(task_id, f"{n}:" + "x" * 8000)
                await receive(fast)
                if n % 20 == 19 and await dropped_slow_clients(server) == 1:
                    break
            assert await dropped_slow_clients(server) == 1
            # The server's end is gone within the grace (1 s), not left open for the keepalive.
            for _ in range(40):
                if _tcp_states(server.port).get(local_port) is None:
                    break
                await asyncio.sleep(0.1)
            assert _tcp_states(server.port).get(local_port) is None
            await request(fast, type="ping")
    finally:
        stuck.close()
        server.stop()


def masked_text(text: str) -> bytes:
    return masked_frame(0x1, text.encode())


def masked_frame(opcode: int, payload: bytes) -> bytes:
    """A client frame (clients must mask), short enough for a one-byte length."""
    mask = b"\x01\x02\x03\x04"
    assert len(payload) < 126
    masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked


async def test_after_redis_restarts_empty_clients_are_told_and_keep_receiving(
    realtime_server: Server, engine: EnginePublisher, private_redis: PrivateRedis
) -> None:
    async with connect(ws_url(realtime_server)) as socket:
        subscribed = await request(socket, type="subscribe", channel="task:restart")
        assert subscribed["recovered"] is True
        private_redis.restart()  # without persistence: history and its epoch are gone
        for n in range(20):
            await engine.output("restart", str(n))  # retried until the new Redis takes it
        told = await receive(socket)
        assert (told["type"], told["channel"], told["recovered"]) == (
            "subscribed",
            "task:restart",
            False,
        )
        assert told["epoch"] != subscribed["epoch"]
        # Everything published on the new Redis arrives, once, in order (history or live).
        outputs = [int((await receive(socket))["output"]) for _ in range(20)]
        assert outputs == list(range(20))
        # A client resuming with the old epoch is told too.
    async with connect(ws_url(realtime_server)) as socket:
        resumed = await request(
            socket, type="subscribe", channel="task:restart", since="1-0", epoch=subscribed["epoch"]
        )
        assert (resumed["recovered"], resumed["epoch"]) == (False, told["epoch"])


async def test_two_replicas_deliver_every_event_to_every_client(
    e2e_database_url: str, private_redis: PrivateRedis, engine: EnginePublisher
) -> None:
    first = start_server(e2e_database_url, private_redis)
    second = start_server(e2e_database_url, private_redis)
    try:
        task_id = uuid.uuid4().hex
        async with connect(ws_url(first)) as on_first, connect(ws_url(second)) as on_second:
            for socket in (on_first, on_second):
                await request(socket, type="subscribe", channel=f"task:{task_id}")
            # A change made through one replica reaches clients of both.
            async with httpx.AsyncClient(base_url=second.url) as http:
                created = await http.post(
                    "/api/tasks", json={"agent_type": "coder", "task_id": task_id}
                )
                assert created.status_code == 201
            await engine.output(task_id, "streamed")
            for socket in (on_first, on_second):
                status, output = await receive(socket), await receive(socket)
                assert (status["type"], status["status"]) == ("task_status", "queued")
                assert output["output"] == "streamed"
    finally:
        first.stop()
        second.stop()


async def test_events_sent_while_the_api_was_down_are_persisted_once(
    e2e_database_url: str, private_redis: PrivateRedis, engine: EnginePublisher
) -> None:
    task_id = uuid.uuid4().hex
    await engine.lifecycle("task.created", task_id, event_id=f"{task_id}-1", agent_type="coder")
    await engine.lifecycle("task.started", task_id, event_id=f"{task_id}-2")
    done = {"cost_usd": "0.0125", "input_tokens": 900, "output_tokens": 120}
    await engine.lifecycle("task.completed", task_id, event_id=f"{task_id}-3", **done)
    # The engine retries the last one: the same event id must change nothing.
    await engine.lifecycle("task.completed", task_id, event_id=f"{task_id}-3", **done)
    await engine.lifecycle("task.exploded", task_id, event_id=f"{task_id}-4")
    server = start_server(e2e_database_url, private_redis)
    try:
        async with httpx.AsyncClient(base_url=server.url) as http:
            task: dict[str, Any] = {}
            for _ in range(150):
                response = await http.get(f"/api/tasks/{task_id}")
                task = response.json()
                if response.status_code == 200 and task["status"] == "completed":
                    break
                await asyncio.sleep(0.1)
            assert task["status"] == "completed"
            assert (task["cost_usd"], task["input_tokens"]) == (0.0125, 900)
            status = (await http.get("/api/status")).json()["realtime"]
            assert (status["ingested_events"], status["rejected_events"]) == (4, 1)
            async with connect(ws_url(server)) as socket:
                await request(socket, type="subscribe", channel=f"task:{task_id}")
                final = await receive(socket)
                assert (final["status"], final["cost_usd"]) == ("completed", 0.0125)
            stop = await http.post(f"/api/tasks/{task_id}/stop")
            assert stop.status_code == 409  # finished: nothing to stop
        dead = private_redis.client().xrange("dashboard:ingest:rejected")
        assert [fields[b"reason"] for _, fields in dead] == [b"unknown event type 'task.exploded'"]
    finally:
        server.stop()


async def test_a_stop_request_reaches_the_engine(
    realtime_server: Server, engine: EnginePublisher
) -> None:
    async with httpx.AsyncClient(base_url=realtime_server.url) as http:
        created = await http.post("/api/tasks", json={"agent_type": "coder", "status": "running"})
        task_id = created.json()["task_id"]
        assert (await http.post(f"/api/tasks/{task_id}/stop")).status_code == 202
    commands = [command async for command in engine.stop_requests()]
    assert commands[-1]["type"] == "stop_requested"
    assert commands[-1]["task_id"] == task_id


class RawClient:
    """A bare WebSocket client (handshake, unmasked server frames): 600 of them cost the test
    process little, so what is measured is the server's fan-out."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.frames: list[dict[str, Any]] = []
        self.close_code: int | None = None

    @classmethod
    async def open(cls, port: int) -> RawClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        response = await reader.readuntil(b"\r\n\r\n")
        assert response.startswith(b"HTTP/1.1 101")
        return cls(reader, writer)

    def send(self, frame: dict[str, Any]) -> None:
        self.writer.write(masked_text(json.dumps(frame)))

    async def read_until(self, count: int) -> None:
        """Read text frames until `count` arrived or the server closed the connection."""
        while len(self.frames) < count:
            head = await self.reader.readexactly(2)
            length = head[1] & 0x7F
            if length == 126:
                length = int.from_bytes(await self.reader.readexactly(2), "big")
            elif length == 127:
                length = int.from_bytes(await self.reader.readexactly(8), "big")
            payload = await self.reader.readexactly(length)
            opcode = head[0] & 0x0F
            if opcode == 0x8:
                self.close_code = int.from_bytes(payload[:2], "big")
                return
            if opcode == 0x9:  # uvicorn's keepalive: answer, or it closes us after 40 s
                self.writer.write(masked_frame(0xA, payload))
            elif opcode == 0x1:
                self.frames.append(json.loads(payload))

    def close(self) -> None:
        self.writer.close()


async def test_a_burst_to_600_sockets_outlasting_the_heartbeat_loses_nothing_silently(
    e2e_database_url: str, private_redis: PrivateRedis
) -> None:
    from tests.integration.test_hub_burst import publish_burst

    events, heartbeat = 250, 0.1
    server = start_server(e2e_database_url, private_redis, redis_heartbeat_seconds=str(heartbeat))
    clients: list[RawClient] = []
    try:
        for _ in range(600):
            client = await RawClient.open(server.port)
            client.send({"type": "subscribe", "channel": "tasks"})
            clients.append(client)
        await asyncio.gather(*(client.read_until(1) for client in clients))
        assert {client.frames[0]["type"] for client in clients} == {"subscribed"}
        bus = RedisEventBus.from_url(private_redis.url)
        started = asyncio.get_running_loop().time()
        try:
            await publish_burst(bus, "tasks", events)
        finally:
            await bus.close()
        reading = asyncio.gather(*(client.read_until(events + 1) for client in clients))
        await asyncio.wait_for(reading, 90)
        elapsed = asyncio.get_running_loop().time() - started
        assert elapsed > 3 * heartbeat  # the fan-out did outlast the heartbeat
        for client in clients:
            if client.close_code is not None:
                assert client.close_code == 1013  # told, never a silent gap
                continue
            # No reconnection notice, no gap, no duplicate, in order.
            assert [frame["type"] for frame in client.frames].count("subscribed") == 1
            assert [frame["n"] for frame in client.frames[1:]] == list(range(events))
    finally:
        for client in clients:
            client.close()
        server.stop()
