"""`/ws`: one reader and one writer per socket around the hub (SPEC §6).

Frames are received as raw ASGI messages and decoded with msgspec here, so a bad frame gets an
`error` frame and the connection stays open (a `websocket_listener` with a DTO would drop it).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import logging
import socket as socket_module
import struct
from collections.abc import Awaitable, Coroutine
from typing import Any, cast

from litestar import WebSocket, websocket
from litestar.datastructures import State
from litestar.types import Send

from dashboard_api.domain.realtime.client import HubClient, WriteNow
from dashboard_api.domain.realtime.hub import Hub
from dashboard_api.domain.realtime.protocol import (
    PONG,
    ErrorCode,
    FrameError,
    error_frame,
    parse_frame,
    reply_frame,
)
from dashboard_api.http.dependencies import services_of

log = logging.getLogger(__name__)
_LINGER_ZERO = struct.pack("ii", 1, 0)

# The scope key of the ASGI server's own `send`, set by the app's entry point
# (`fast_reads.DashboardApp`). The hub's event frames go straight to it: between the handler
# and the server, Litestar's socket wrapper, its exception handler twice and the request
# observer each wrap `send` in a coroutine that looks at a frame and passes it on (they act
# on the accept, the close and an HTTP start, never on a frame): four coroutines a frame that
# do nothing for it (docs/benchmarks-realtime.md, "Frames straight to the server"). The
# accept and the close still go through them (the observer logs the close code).
SERVER_SEND = "dashboard.server_send"


@websocket("/ws")
async def websocket_hub(socket: WebSocket[Any, Any, State]) -> None:
    runtime = services_of(socket.app.state)
    hub = runtime.hub
    await socket.accept()
    client = hub.connect(runtime.settings.ws_send_queue, _writer_now(socket))
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
        await _close(socket, client.close_code, runtime.settings.ws_close_timeout_seconds)


async def _close(socket: WebSocket[Any, Any, State], code: int, grace_seconds: float) -> None:
    """Close with `code` (1013 for a slow client, 1001 at shutdown). A slow client's socket may
    be full: when the close frame cannot leave the process within the grace, the transport is
    aborted, rather than left open until the keepalive gives up (~40 s, with 1011)."""
    deadline = asyncio.get_running_loop().time() + grace_seconds
    try:
        await asyncio.wait_for(socket.close(code=code), grace_seconds)
    except TimeoutError:
        pass
    except Exception:
        return  # the client is already gone
    transport = _transport_of(socket)
    if transport is None:
        return  # not uvicorn: the server's own close timeout applies
    # Queued behind what the client has not read yet: wait for the buffer to reach the kernel.
    while transport.get_write_buffer_size() > 0:
        if asyncio.get_running_loop().time() >= deadline:
            log.info("ws close %d not written in %.1fs: connection aborted", code, grace_seconds)
            _abort(transport)
            return
        await asyncio.sleep(0.05)


def _abort(transport: asyncio.WriteTransport) -> None:
    """Drop the connection now: a reset (linger 0), so the kernel does not keep trying to
    deliver what the client would not read."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError, AttributeError):
            sock.setsockopt(socket_module.SOL_SOCKET, socket_module.SO_LINGER, _LINGER_ZERO)
    transport.abort()


def _transport_of(socket: WebSocket[Any, Any, State]) -> asyncio.WriteTransport | None:
    """The connection's transport, when the ASGI server is uvicorn (ASGI has no way to abort):
    its receive and send callables are methods of the protocol that owns the transport, found
    under the wrappers Litestar puts around them."""
    pending: list[Any] = [socket.receive, socket.send]
    for _ in range(16):  # a few wrappers deep at most
        if not pending:
            break
        function = pending.pop()
        transport = getattr(getattr(function, "__self__", None), "transport", None)
        # uvloop's transports are not asyncio classes: recognised by what is used here.
        if hasattr(transport, "abort") and hasattr(transport, "get_write_buffer_size"):
            return cast("asyncio.WriteTransport", transport)
        for cell in getattr(function, "__closure__", None) or ():
            with contextlib.suppress(ValueError):  # an empty cell
                if callable(cell.cell_contents):
                    pending.append(cell.cell_contents)
    return None


def _frame_send(socket: WebSocket[Any, Any, State]) -> Send:
    """Where the hub's frames go: the server's `send` (`SERVER_SEND`) when it is a coroutine
    function (uvicorn's), which `_writer_now` can step by hand; else the socket's (granian's
    `send` returns an awaitable of its own that has no `send` step)."""
    server_send = cast("dict[str, Any]", socket.scope).get(SERVER_SEND)
    if server_send is not None and inspect.iscoroutinefunction(server_send):
        return cast("Send", server_send)
    return socket.send


async def _write(socket: WebSocket[Any, Any, State], client: HubClient) -> None:
    send = _frame_send(socket)
    while frames := await client.take():
        for frame in frames:
            if isinstance(frame, str):
                await send({"type": "websocket.send", "text": frame, "bytes": None})
            else:
                await frame


def _writer_now(socket: WebSocket[Any, Any, State]) -> WriteNow:
    """Write a frame without a task switch: step the ASGI send coroutine by hand. The server's
    send completes at once while the socket is writable; when it must wait, the rest of the
    coroutine is handed back for the connection's writer task to finish."""
    send = _frame_send(socket)

    def write_now(frame: str) -> Awaitable[None] | None:
        event = {"type": "websocket.send", "text": frame, "bytes": None}
        step = cast("Coroutine[Any, Any, None]", send(event))  # type: ignore[arg-type]
        try:
            blocked_on = step.send(None)
        except StopIteration:
            return None
        return _finish(step, blocked_on)

    return write_now


async def _finish(step: Coroutine[Any, Any, None], blocked_on: Any) -> None:
    """Drive a started coroutine to its end, as a task would: wait for what it yielded, then
    resume it."""
    loop = asyncio.get_running_loop()
    try:
        while True:
            if blocked_on is None:
                await asyncio.sleep(0)
            else:
                # Wait as a task would: clear the flag a task clears, then wake on the yielded
                # future's done callback. Awaiting it again works for asyncio's futures but not
                # for granian's (DASHBOARD_SERVER=granian), which refuse a second step.
                blocked_on._asyncio_future_blocking = False
                woken = loop.create_future()
                blocked_on.add_done_callback(functools.partial(_wake, woken))
                await woken
            blocked_on = step.send(None)
    except StopIteration:
        return
    finally:
        step.close()


def _wake(woken: asyncio.Future[None], _: object) -> None:
    if not woken.done():  # cancelled meanwhile
        woken.set_result(None)


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
            if len(text) > max_frame_bytes or len(text.encode()) > max_frame_bytes:
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
                await hub.subscribe(client, frame.channel, frame.since, frame.epoch)
        except FrameError as refused:
            log.info("ws frame refused: %s: %s", refused.code.value, refused.message)
            client.offer(error_frame(refused.code, refused.message))
        except Exception:
            # A bug, not the client's fault: say so, log it, and keep the connection.
            log.exception("ws frame could not be handled")
            client.offer(error_frame(ErrorCode.INTERNAL_ERROR, "the frame could not be handled"))
