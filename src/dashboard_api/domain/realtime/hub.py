"""The hub: fans bus messages out to WebSocket clients, with resume and gap-free recovery.

No database work per event: the hub moves bytes. A `since` subscription buffers live messages
first, then reads history, sends it, and flushes the buffer skipping ids already sent; event
ids are ordered within a channel, so there is no gap and no duplicate. When history cannot
give everything (trimmed, lost, a refill after a reconnect that came too late), the client is
told: `subscribed` carries `recovered: false` and the history epoch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import msgspec

from dashboard_api.domain.model.channels import Replay
from dashboard_api.domain.ports import EventBus, EventFeed
from dashboard_api.domain.realtime.client import HubClient, WriteNow
from dashboard_api.domain.realtime.event_ids import EventKey, message_key
from dashboard_api.domain.realtime.protocol import (
    ErrorCode,
    FrameError,
    channel_prefix,
    event_frame,
    is_event_object,
    subscribed_frame,
)

log = logging.getLogger(__name__)

# Messages a refill fans out between two turns given back to the event loop.
_YIELD_EVERY = 64

# Looks up the final status event of a finished task, once per subscription; None if running.
FinalStatus = Callable[[str], Awaitable[Mapping[str, Any] | None]]


class _Channel:
    __slots__ = (
        "again",
        "baseline",
        "buffer",
        "epoch",
        "floors",
        "last",
        "name",
        "prefix",
        "ready",
        "subscribers",
    )

    def __init__(self, name: str) -> None:
        self.name = name
        self.prefix = channel_prefix(name)
        # None: live; a list: the client is catching up and its frames wait there.
        self.subscribers: dict[HubClient, list[tuple[EventKey | None, str]] | None] = {}
        self.last: EventKey | None = None  # newest id fanned out, for dedupe and gap filling
        # Newest id in history when the channel was opened: where a refill starts if nothing
        # was fanned out yet.
        self.baseline: EventKey | None = None
        # Clients whose replay ran ahead of live delivery: events up to their floor, still on
        # their way from Redis, were already sent to them from history.
        self.floors: dict[HubClient, EventKey] = {}
        self.buffer: list[bytes] | None = None  # set while the channel refills after a reconnect
        self.again = False  # reconnected again while refilling: read history once more
        self.epoch = ""  # the history epoch its subscribers were told
        self.ready: asyncio.Task[None] | None = None


class Hub:
    def __init__(
        self,
        bus: EventBus,
        *,
        history_limit: int = 1000,
        max_subscriptions: int = 100,
        subscribe_timeout: float = 5.0,
        final_status: FinalStatus | None = None,
    ) -> None:
        self._bus = bus
        self._history_limit = history_limit
        self._max_subscriptions = max_subscriptions
        self._subscribe_timeout = subscribe_timeout
        self._final_status = final_status
        self._channels: dict[str, _Channel] = {}
        self._clients: set[HubClient] = set()
        self._feed: EventFeed | None = None
        self._background: set[asyncio.Task[None]] = set()
        self.dropped_slow_clients = 0
        self.events_fanned_out = 0

    async def start(self) -> None:
        self._feed = await self._bus.open_feed(self._on_message, self._on_resubscribed)

    async def stop(self) -> None:
        for client in list(self._clients):
            client.close(1001)
        for task in list(self._background):
            task.cancel()
        if self._feed is not None:
            await self._feed.close()

    def connect(self, capacity: int, write_now: WriteNow | None = None) -> HubClient:
        client = HubClient(capacity, write_now)
        self._clients.add(client)
        return client

    def disconnect(self, client: HubClient) -> None:
        for channel in list(client.channels):
            self.unsubscribe(client, channel)
        self._clients.discard(client)

    @property
    def connections(self) -> int:
        return len(self._clients)

    @property
    def subscriptions(self) -> int:
        return sum(len(client.channels) for client in self._clients)

    @property
    def bus_connected(self) -> bool:
        return self._feed is not None and self._feed.connected

    @property
    def channels(self) -> int:
        return len(self._channels)

    async def subscribe(
        self,
        client: HubClient,
        channel: str,
        since: str | None = None,
        epoch: str | None = None,
    ) -> None:
        """Send `subscribed` (whether everything after `since` could be replayed, and the
        history epoch), then what `since` missed (or a finished task's final status), then
        live events. Raises `FrameError` when the subscription cannot be made."""
        if channel in client.channels:
            state = self._channels.get(channel)
            client.offer(subscribed_frame(channel, True, state.epoch if state else ""))
            return
        if len(client.channels) >= self._max_subscriptions:
            raise FrameError(
                ErrorCode.TOO_MANY_SUBSCRIPTIONS,
                f"at most {self._max_subscriptions} subscriptions per connection",
            )
        state = self._channels.get(channel) or self._open(channel)
        pending: list[tuple[EventKey | None, str]] = []
        state.subscribers[client] = pending
        client.channels.add(channel)
        try:
            assert state.ready is not None
            await asyncio.wait_for(asyncio.shield(state.ready), self._subscribe_timeout)
            replay: list[bytes] = []
            final = None
            recovered, current_epoch = True, state.epoch
            if since is not None:
                current_epoch, replay, recovered = await self._bus.replay(
                    channel, after=since, epoch=epoch, limit=self._history_limit
                )
            else:
                final = await self._final_frame(state)
        except Exception as exc:
            self.unsubscribe(client, channel)
            log.warning("subscribe to %s failed: %r", channel, exc)
            raise FrameError(ErrorCode.BUS_UNAVAILABLE, "the event bus is unavailable") from exc
        # From here on nothing awaits: the switch to live cannot interleave with a delivery.
        if state.subscribers.get(client) is not pending:
            return  # unsubscribed or disconnected meanwhile
        sent: EventKey | None = None
        frames = [subscribed_frame(channel, recovered, current_epoch)]
        for message in replay:
            sent = message_key(message) or sent
            frames.append(event_frame(state.prefix, message))
        if final is not None:
            frames.append(final)
        frames.extend(frame for key, frame in pending if key is None or sent is None or key > sent)
        state.subscribers[client] = None
        if sent is not None and (state.last is None or sent > state.last):
            state.floors[client] = sent
        for frame in frames:
            if not client.offer(frame):
                self._drop_slow(client)
                return

    def unsubscribe(self, client: HubClient, channel: str) -> None:
        client.channels.discard(channel)
        state = self._channels.get(channel)
        if state is None or state.subscribers.pop(client, False) is False:
            return
        state.floors.pop(client, None)
        if not state.subscribers:
            del self._channels[channel]
            if state.ready is not None and not state.ready.done():
                state.ready.cancel()
            if self._feed is not None:
                # At once, not in a task: a SUBSCRIBE for the same channel may follow at once.
                self._feed.unsubscribe(channel)

    def _open(self, channel: str) -> _Channel:
        state = self._channels[channel] = _Channel(channel)
        state.ready = asyncio.create_task(self._listen(state))
        return state

    async def _listen(self, state: _Channel) -> None:
        assert self._feed is not None
        await self._feed.subscribe(state.name)
        # Where the channel stands now: the point a reconnection refills from.
        tail = await self._bus.replay(state.name, after=None, epoch=None, limit=1)
        state.baseline = message_key(tail.messages[0]) if tail.messages else None
        state.epoch = tail.epoch

    async def _final_frame(self, state: _Channel) -> str | None:
        if self._final_status is None or not state.name.startswith("task:"):
            return None
        event = await self._final_status(state.name.removeprefix("task:"))
        if event is None:
            return None
        body = {"channel": state.name, **event}
        newest = max(state.last or (0, 0), state.baseline or (0, 0))
        if newest != (0, 0):
            body["id"] = f"{newest[0]}-{newest[1]}"
        return msgspec.json.encode(body).decode()

    def _on_message(self, channel: str, message: bytes) -> None:
        state = self._channels.get(channel)
        if state is None:
            return
        key = message_key(message)
        if key is None:
            if not is_event_object(message):
                return  # a raw publish that is not an event: nothing a client could read
        elif state.last is not None and key <= state.last:
            return  # already delivered while refilling after a reconnect
        if state.buffer is not None:
            state.buffer.append(message)
            return
        self._fan_out(state, key, message)

    def _fan_out(self, state: _Channel, key: EventKey | None, message: bytes) -> None:
        self.events_fanned_out += 1
        if key is not None:
            state.last = key
        frame = event_frame(state.prefix, message)
        slow: list[HubClient] = []
        floors = state.floors
        for client, pending in state.subscribers.items():
            if pending is not None:
                pending.append((key, frame))
                continue
            if floors and key is not None and client in floors:
                if key <= floors[client]:
                    continue  # it had this one from history
                del floors[client]
            if not client.offer(frame):
                slow.append(client)
        for client in slow:
            self._drop_slow(client)

    def _drop_slow(self, client: HubClient) -> None:
        self.dropped_slow_clients += 1
        self.disconnect(client)

    def _on_resubscribed(self, channels: list[str]) -> None:
        for channel in channels:
            state = self._channels.get(channel)
            if state is None:
                continue
            if state.buffer is not None:
                state.again = True  # a refill is under way: it reads history once more
                continue
            state.buffer = []
            self._spawn(self._refill(state))

    async def _refill(self, state: _Channel) -> None:
        """Deliver from history what was published while the live connection was down, after
        telling every subscriber (again `subscribed`) whether history still had all of it."""
        if state.ready is not None:
            # Where the channel stood when it was opened; if that failed, its subscribers were
            # refused, and history is read from the start.
            with contextlib.suppress(Exception):
                await asyncio.shield(state.ready)
        while True:
            state.again = False
            last = state.last or state.baseline
            after = f"{last[0]}-{last[1]}" if last is not None else "0-0"
            try:
                replay = await self._bus.replay(
                    state.name, after=after, epoch=state.epoch, limit=self._history_limit
                )
            except Exception as exc:
                log.warning("could not refill %s after reconnecting: %r", state.name, exc)
                replay = Replay(state.epoch, [], False)
            if not state.again:
                break
        if self._channels.get(state.name) is not state:
            return  # everyone left meanwhile
        if replay.epoch != state.epoch:
            # History was lost (Redis restarted empty): ids start over, nothing is a duplicate.
            state.epoch, state.last, state.baseline = replay.epoch, None, None
            state.floors.clear()
        if not replay.complete:
            log.warning("history of %s could not refill the gap: clients are told", state.name)
        notice = subscribed_frame(state.name, replay.complete, state.epoch)
        slow: list[HubClient] = []
        for client, pending in state.subscribers.items():
            if pending is not None:
                pending.append((None, notice))
            elif not client.offer(notice):
                slow.append(client)
        for client in slow:
            self._drop_slow(client)
        await self._deliver_all(state, replay.messages)
        # Live messages that came meanwhile, until none is left; then live again, with no
        # await between the last check and the switch.
        while state.buffer:
            buffered, state.buffer = state.buffer, []
            await self._deliver_all(state, buffered)
        state.buffer = None

    async def _deliver_all(self, state: _Channel, messages: list[bytes]) -> None:
        for count, message in enumerate(messages, 1):
            key = message_key(message)
            if key is None or state.last is None or key > state.last:
                self._fan_out(state, key, message)
            if count % _YIELD_EVERY == 0:
                await asyncio.sleep(0)  # a long refill must not starve the loop

    def _spawn(self, work: Awaitable[None]) -> None:
        async def run() -> None:
            with contextlib.suppress(Exception):
                await work

        task = asyncio.create_task(run())
        self._background.add(task)
        task.add_done_callback(self._background.discard)
