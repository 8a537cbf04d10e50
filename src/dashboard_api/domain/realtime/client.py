"""One WebSocket client as the hub sees it: a bounded outbox and the channels it listens to."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable

# RFC 6455 close codes the hub uses.
TRY_AGAIN_LATER = 1013
INTERNAL_ERROR = 1011

# Writes a frame at once if the socket can take it: None when written, or an awaitable that
# finishes a write the socket could not take yet (its writer then awaits it, in order).
WriteNow = Callable[[str], Awaitable[None] | None]
Outgoing = str | Awaitable[None]


class HubClient:
    """Frames go straight to the socket while its writer is idle and the socket can take them
    (no task switch per frame, the cost that dominates fan-out); otherwise they wait in a
    bounded outbox for the writer. When the outbox is full the client is too slow: it is
    closed, and never slows the fan-out to the others."""

    __slots__ = (
        "_busy",
        "_frames",
        "_ready",
        "capacity",
        "channels",
        "close_code",
        "closed",
        "write_now",
    )

    def __init__(self, capacity: int, write_now: WriteNow | None = None) -> None:
        self.capacity = capacity
        self.write_now = write_now
        self._frames: deque[Outgoing] = deque()
        self._ready = asyncio.Event()
        self._busy = False  # the writer holds frames it has not written yet
        self.channels: set[str] = set()
        self.closed = asyncio.Event()
        self.close_code: int | None = None

    def offer(self, frame: str) -> bool:
        """Send or queue a frame; False (and the client is closed) when it cannot keep up."""
        if self.close_code is not None:
            return False
        if not self._busy and not self._frames and self.write_now is not None:
            try:
                unfinished = self.write_now(frame)
            except Exception:
                self.close(INTERNAL_ERROR)  # the socket is gone; its reader will notice
                return False
            if unfinished is None:
                return True
            self._frames.append(unfinished)
            self._ready.set()
            return True
        if len(self._frames) >= self.capacity:
            self.close(TRY_AGAIN_LATER)
            return False
        self._frames.append(frame)
        self._ready.set()
        return True

    async def take(self) -> list[Outgoing]:
        """Everything queued, waiting for something; empty once the client is closed. The
        writer calls it again only after writing what it took."""
        while not self._frames:
            self._busy = False
            if self.close_code is not None:
                return []
            self._ready.clear()
            await self._ready.wait()
        if self.close_code is not None:
            return []
        self._busy = True
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
