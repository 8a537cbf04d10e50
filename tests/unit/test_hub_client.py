"""A hub client writes straight to its socket while it can, and queues in order when it cannot."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from dashboard_api.domain.realtime.client import TRY_AGAIN_LATER, HubClient


class Socket:
    """Takes frames at once until `full`; then each write finishes only when drained."""

    def __init__(self) -> None:
        self.written: list[str] = []
        self.full = False
        self.drained = asyncio.Event()

    def write_now(self, frame: str) -> Awaitable[None] | None:
        if not self.full:
            self.written.append(frame)
            return None
        return self._later(frame)

    async def _later(self, frame: str) -> None:
        await self.drained.wait()
        self.written.append(frame)


async def write_all(client: HubClient, socket: Socket) -> None:
    while frames := await client.take():
        for frame in frames:
            if isinstance(frame, str):
                socket.written.append(frame)
            else:
                await frame


async def test_frames_go_straight_out_while_the_socket_takes_them() -> None:
    socket = Socket()
    client = HubClient(capacity=2, write_now=socket.write_now)
    assert all(client.offer(f"f{n}") for n in range(10))  # capacity is never reached
    assert socket.written == [f"f{n}" for n in range(10)]
    assert client.queued == 0


async def test_a_blocked_socket_keeps_the_order_and_bounds_the_backlog() -> None:
    socket = Socket()
    client = HubClient(capacity=3, write_now=socket.write_now)
    writer = asyncio.create_task(write_all(client, socket))
    client.offer("a")
    socket.full = True
    for frame in ("b", "c", "d"):
        assert client.offer(frame)
    await asyncio.sleep(0)  # the writer now waits on the blocked write of "b"
    socket.drained.set()
    await asyncio.sleep(0.01)
    assert socket.written == ["a", "b", "c", "d"]
    socket.full, socket.drained = True, asyncio.Event()
    client.offer("e")
    await asyncio.sleep(0)
    for n in range(3):
        assert client.offer(f"x{n}")
    assert not client.offer("one too many")
    assert client.close_code == TRY_AGAIN_LATER
    assert client.queued == 0
    writer.cancel()
