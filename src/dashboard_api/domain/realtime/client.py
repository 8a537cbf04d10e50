"""One WebSocket client as the hub sees it: a bounded outbox and the channels it listens to."""

from __future__ import annotations

import asyncio
from collections import deque

# RFC 6455 close codes the hub uses for a client that cannot keep up.
TRY_AGAIN_LATER = 1013


class HubClient:
    """Frames wait in a bounded outbox until the socket writer takes them. When the outbox is
    full the client is too slow: it is closed, and never slows the fan-out to the others."""

    __slots__ = ("_frames", "_ready", "capacity", "channels", "close_code", "closed")

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._frames: deque[str] = deque()
        self._ready = asyncio.Event()
        self.channels: set[str] = set()
        self.closed = asyncio.Event()
        self.close_code: int | None = None

    def offer(self, frame: str) -> bool:
        """Queue a frame; False (and the client is closed) when the outbox is full."""
        if self.close_code is not None:
            return False
        if len(self._frames) >= self.capacity:
            self.close(TRY_AGAIN_LATER)
            return False
        self._frames.append(frame)
        self._ready.set()
        return True

    async def take(self) -> list[str]:
        """Every queued frame, waiting for one; empty once the client is closed."""
        while not self._frames:
            if self.close_code is not None:
                return []
            self._ready.clear()
            await self._ready.wait()
        if self.close_code is not None:
            return []
        frames = list(self._frames)
        self._frames.clear()
        return frames

    def close(self, code: int) -> None:
        if self.close_code is None:
            self.close_code = code
            self._frames.clear()
            self._ready.set()
            self.closed.set()

    @property
    def queued(self) -> int:
        return len(self._frames)
