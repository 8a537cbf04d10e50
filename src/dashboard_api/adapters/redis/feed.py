"""Live delivery from Redis pub/sub: one connection per process, supervised.

The supervisor reconnects with backoff after any drop (Redis restart, `CLIENT KILL`, a dead
socket found by the heartbeat), subscribes every wanted channel again and then tells the hub
which channels came back, so it can fetch from history what was published meanwhile.

Liveness is measured on the connection, not on the clock: while the reader is busy fanning
out what Redis sent, Redis is not silent, and a stalled event loop is not a silent peer. Only
heartbeat ticks spent waiting for bytes that never came count as silence.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from dashboard_api.adapters.redis.pubsub_connection import PubSubConnection
from dashboard_api.domain.ports import Deliver, Resubscribed

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5.0
_MAX_BACKOFF_SECONDS = 2.0
# Silent heartbeats (each one PING unanswered) before the connection is declared dead.
_SILENT_HEARTBEATS = 3
# The reader hands the loop back at least this often while it fans out a large read, so a
# burst cannot starve the sockets' writers, the HTTP handlers or the heartbeat.
_YIELD_EVERY_SECONDS = 0.005


class RedisEventFeed:
    def __init__(
        self,
        url: str,
        deliver: Deliver,
        resubscribed: Resubscribed,
        *,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
    ) -> None:
        self._url = url
        self._heartbeat_seconds = heartbeat_seconds
        self._deliver = deliver
        self._resubscribed = resubscribed
        self._wanted: set[str] = set()
        # One future per SUBSCRIBE sent, resolved in order by Redis's confirmations.
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}
        self._connection: PubSubConnection | None = None
        # Set by the reader whenever bytes arrive or while it handles them; cleared by the
        # heartbeat at each tick it looks.
        self._heard = True
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self.reconnections = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._supervise(), name="redis-event-feed")

    @property
    def connected(self) -> bool:
        return self._connection is not None

    async def subscribe(self, channel: str) -> None:
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(channel, []).append(waiter)
        self._wanted.add(channel)
        if self._connection is not None:
            self._connection.send("SUBSCRIBE", channel)
        # Without a connection the supervisor subscribes it on reconnecting.
        await waiter

    def unsubscribe(self, channel: str) -> None:
        self._wanted.discard(channel)
        if self._connection is not None:
            self._connection.send("UNSUBSCRIBE", channel)

    async def close(self) -> None:
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def _supervise(self) -> None:
        backoff = 0.05
        first = True
        while not self._closing:
            try:
                connection = await PubSubConnection.open(self._url)
            except (OSError, ConnectionError, TimeoutError) as exc:
                log.warning("Redis pub/sub unreachable (%s); retrying in %.2fs", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF_SECONDS)
                continue
            backoff = 0.05
            if not first:
                self.reconnections += 1
                log.warning(
                    "Redis pub/sub reconnected; resubscribing %d channels", len(self._wanted)
                )
            await self._serve(connection, resubscribing=not first)
            first = False

    async def _serve(self, connection: PubSubConnection, *, resubscribing: bool) -> None:
        # Commands sent on the lost connection got no answer: each channel is confirmed once.
        for waiters in self._waiters.values():
            del waiters[1:]
        self._waiters = {channel: w for channel, w in self._waiters.items() if w}
        resubscribe = sorted(self._wanted)
        for channel in resubscribe:
            self._waiters.setdefault(channel, [])
        if resubscribe:
            connection.send("SUBSCRIBE", *resubscribe)
        self._connection = connection
        self._heard = True
        heartbeat = asyncio.create_task(self._heartbeat(connection))
        try:
            await self._read(connection, set(resubscribe) if resubscribing else set())
        except (OSError, ConnectionError) as exc:
            log.warning("Redis pub/sub connection lost: %s", exc)
        finally:
            heartbeat.cancel()
            self._connection = None
            connection.close()

    async def _read(self, connection: PubSubConnection, returning: set[str]) -> None:
        deliver = self._deliver
        clock = time.monotonic
        while True:
            await connection.fill()
            self._heard = True
            handed_back = clock()
            while (reply := connection.pending()) is not False:
                kind = reply[0]
                if kind == b"message":
                    deliver(reply[1].decode(), reply[2])
                elif kind == b"subscribe":
                    channel = reply[1].decode()
                    self._confirm(channel)
                    if channel in returning:
                        returning.discard(channel)
                        self._resubscribed([channel])
                if clock() - handed_back > _YIELD_EVERY_SECONDS:
                    self._heard = True  # busy with what Redis sent: it is not silent
                    await asyncio.sleep(0)
                    handed_back = clock()

    def _confirm(self, channel: str) -> None:
        waiters = self._waiters.get(channel)
        if waiters:
            waiter = waiters.pop(0)
            if not waiter.done():
                waiter.set_result(None)
            if not waiters:
                del self._waiters[channel]

    async def _heartbeat(self, connection: PubSubConnection) -> None:
        # A peer that vanished without a FIN (a dead host, a dropped route) never makes the read
        # fail: PING in subscribed mode, and drop the connection when several PINGs in a row got
        # nothing back. Silence is counted in ticks, not wall time: if the loop was stalled, the
        # tick that follows counts once, and the bytes that came meanwhile are read first.
        silent = 0
        while True:
            await asyncio.sleep(self._heartbeat_seconds)
            if self._heard:
                self._heard = False
                silent = 0
            else:
                silent += 1
                if silent >= _SILENT_HEARTBEATS:
                    log.warning(
                        "Redis pub/sub answered none of %d PINGs; reconnecting", _SILENT_HEARTBEATS
                    )
                    connection.close()
                    return
            connection.send("PING")
