"""`/ws`: one reader and one writer per socket around the hub (SPEC §6).

Frames are received as raw ASGI messages and decoded with msgspec here, so a bad frame gets an
`error` frame and the connection stays open (a `websocket_listener` with a DTO would drop it).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from litestar import WebSocket, websocket
from litestar.datastructures import State

from dashboard_api.domain.realtime.client import HubClient
from dashboard_api.domain.realtime.hub import Hub
from dashboard_api.domain.realtime.protocol import (
    PONG,
    ErrorCode,
    FrameError,
    error_frame,
    parse_frame,
    reply_frame,
)
from dashboard_api.http.runtime import Runtime

CLOSE_TIMEOUT_SECONDS = 2.0


@websocket("/ws")
async def websocket_hub(socket: WebSocket[Any, Any, State]) -> None:
    runtime = Runtime.of(socket.app.state)
    hub = runtime.hub
    await socket.accept()
    client = hub.connect(runtime.settings.ws_send_queue)
    writer = asyncio.create_task(_write(socket, client))
    reader = asyncio.create_task(_read(socket, hub, client, runtime.settings.ws_max_frame_bytes))
    closed = asyncio.create_task(client.closed.wait())
    try:
        await asyncio.wait({writer, reader, closed}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        hub.disconnect(client)
        for task in (writer, reader, closed):
            task.cancel()
        await asyncio.gather(writer, reader, closed, return_exceptions=True)
    if client.close_code is not None:
        # A slow client (or shutdown): its writer may be stuck on a full socket, so the close
        # frame is not waited for long.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(socket.close(code=client.close_code), CLOSE_TIMEOUT_SECONDS)


async def _write(socket: WebSocket[Any, Any, State], client: HubClient) -> None:
    send = socket.send
    while frames := await client.take():
        for frame in frames:
            await send({"type": "websocket.send", "text": frame, "bytes": None})


async def _read(
    socket: WebSocket[Any, Any, State], hub: Hub, client: HubClient, max_frame_bytes: int
) -> None:
    while True:
        message = await socket.receive()
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text")
        try:
            if not isinstance(text, str):
                raise FrameError(ErrorCode.BINARY_FRAME, "frames are JSON text, not binary")
            if len(text) > max_frame_bytes:
                raise FrameError(
                    ErrorCode.FRAME_TOO_LARGE, f"frames are at most {max_frame_bytes} bytes"
                )
            frame = parse_frame(text)
            if frame.type == "ping":
                client.offer(PONG)
            elif frame.type == "unsubscribe":
                assert frame.channel is not None
                hub.unsubscribe(client, frame.channel)
                client.offer(reply_frame("unsubscribed", frame.channel))
            else:
                assert frame.channel is not None
                await hub.subscribe(client, frame.channel, frame.since)
        except FrameError as refused:
            client.offer(error_frame(refused.code, refused.message))
