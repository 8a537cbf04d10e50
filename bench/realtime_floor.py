"""The real-time floor: a bare forwarder that subscribes to Redis and writes each message to the
sockets subscribed to its channel. No history, no resume, no queues, no protocol checks.

    BENCH_REDIS_URL=redis://127.0.0.1:6380/0 \\
        .venv/bin/uvicorn bench.realtime_floor:app --port 5201 --ws-per-message-deflate false

Clients send `{"type":"subscribe","channel":"..."}` once, as they do to the real service.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar, WebSocket, websocket
from redis.asyncio import Redis

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
sockets: dict[str, set[WebSocket[Any, Any, Any]]] = {}
redis: Redis
pubsub: Any


async def forward() -> None:
    async for message in pubsub.listen():
        if message["type"] != "message":
            continue
        text = message["data"].decode()
        for socket in list(sockets.get(message["channel"].decode(), ())):
            try:
                await socket.send({"type": "websocket.send", "text": text, "bytes": None})
            except Exception:
                sockets[message["channel"].decode()].discard(socket)


@asynccontextmanager
async def lifespan(_: Litestar) -> AsyncIterator[None]:
    global redis, pubsub
    redis = Redis.from_url(REDIS_URL)
    pubsub = redis.pubsub()
    await pubsub.subscribe("bench:floor:unused")
    task = asyncio.create_task(forward())
    try:
        yield
    finally:
        task.cancel()
        await redis.aclose()


@websocket("/ws")
async def ws(socket: WebSocket[Any, Any, Any]) -> None:
    await socket.accept()
    channel = json.loads(await socket.receive_text())["channel"]
    if channel not in sockets:
        sockets[channel] = set()
        await pubsub.subscribe(channel)
    sockets[channel].add(socket)
    await socket.send_text(json.dumps({"type": "subscribed", "channel": channel}))
    try:
        while (await socket.receive())["type"] != "websocket.disconnect":
            pass
    finally:
        sockets[channel].discard(socket)


app = Litestar(route_handlers=[ws], lifespan=[lifespan])
