"""The in-process event bus: the embedded default, with bounded, expiring per-channel history."""

from __future__ import annotations

import itertools
import secrets
import time
from collections import deque
from collections.abc import Callable, Sequence

import msgspec

from dashboard_api.domain.model.channels import Event, Replay, StatusEvent
from dashboard_api.domain.ports import Deliver, Resubscribed
from dashboard_api.domain.realtime.event_ids import event_key, with_id

_SWEEP_EVERY = 1000  # publishes between sweeps of expired channels


class _History:
    __slots__ = ("epoch", "events", "touched", "trimmed")

    def __init__(self, length: int, touched: float) -> None:
        self.events: deque[tuple[str, bytes]] = deque(maxlen=length)
        self.touched = touched
        self.trimmed = False  # an event fell off the front: "nothing seen yet" cannot resume
        # A new history (first use, or after expiry) gets a new epoch, as on Redis.
        self.epoch = secrets.token_hex(6)

    def append(self, event_id: str, message: bytes) -> None:
        if len(self.events) == self.events.maxlen:
            self.trimmed = True
        self.events.append((event_id, message))


class MemoryEventFeed:
    """Live delivery inside the process: never disconnects, so never resubscribes."""

    def __init__(self, bus: MemoryEventBus, deliver: Deliver) -> None:
        self._bus = bus
        self._deliver = deliver
        self.channels: set[str] = set()

    def offer(self, channel: str, message: bytes) -> None:
        if channel in self.channels:
            self._deliver(channel, message)

    async def subscribe(self, channel: str) -> None:
        self.channels.add(channel)

    def unsubscribe(self, channel: str) -> None:
        self.channels.discard(channel)

    @property
    def connected(self) -> bool:
        return True

    async def close(self) -> None:
        self.channels.clear()
        self._bus.feeds.discard(self)


class MemoryEventBus:
    def __init__(
        self,
        *,
        history_length: int = 1000,
        history_ttl_seconds: float = 86_400,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._history_length = history_length
        self._ttl = history_ttl_seconds
        self._monotonic = monotonic
        self._history: dict[str, _History] = {}
        self._sequence = itertools.count(1)
        self.feeds: set[MemoryEventFeed] = set()
        self._outboxes: dict[str, dict[str, list[tuple[str, Event]]]] = {}

    async def publish(self, channel: str, event: Event) -> str:
        sequence = next(self._sequence)
        event_id = f"0-{sequence}"
        message = with_id(
            event_id, msgspec.json.encode(event if isinstance(event, StatusEvent) else dict(event))
        )
        history = self._held(channel)
        history.append(event_id, message)
        history.touched = self._monotonic()
        if sequence % _SWEEP_EVERY == 0:
            self._forget_expired()
        for feed in tuple(self.feeds):
            feed.offer(channel, message)
        return event_id

    async def publish_many(self, events: Sequence[tuple[str, Event]]) -> list[str]:
        """Each event as `publish` does it, in the given order (nothing to batch in-process)."""
        return [await self.publish(channel, event) for channel, event in events]

    async def stage(
        self, outbox: str, token: str, events: Sequence[tuple[str, Event]]
    ) -> list[str]:
        """In the process, so lost with it, as everything this bus holds."""
        tokens = self._outboxes.setdefault(outbox, {})
        tokens.pop(token, None)  # what it held (a stage that did not commit) is replaced
        before = list(tokens)
        tokens[token] = list(events)
        return before

    async def staged(self, outbox: str) -> list[str]:
        return list(self._outboxes.get(outbox, {}))

    async def publish_staged(self, outbox: str, token: str) -> None:
        events = self._outboxes.get(outbox, {}).pop(token, None)
        if events:
            await self.publish_many(events)

    async def drop_staged(self, outbox: str, token: str) -> None:
        self._outboxes.get(outbox, {}).pop(token, None)

    def publish_raw(self, channel: str, message: bytes) -> None:
        """Deliver a message live without history, as a raw Redis PUBLISH would."""
        for feed in tuple(self.feeds):
            feed.offer(channel, message)

    async def history(self, channel: str, *, after: str | None, limit: int) -> list[bytes]:
        history = self._history.get(channel)
        if history is None or self._expired(history):
            return []
        if after is None:
            return [message for _, message in list(history.events)[-limit:]]
        start = event_key(after)
        newer = [message for event_id, message in history.events if event_key(event_id) > start]
        return newer[:limit]

    async def replay(
        self, channel: str, *, after: str | None, epoch: str | None, limit: int
    ) -> Replay:
        history = self._held(channel)
        events = list(history.events)
        if after is None:
            return Replay(history.epoch, [message for _, message in events[-limit:]], True)
        complete = True
        if epoch is not None and epoch != history.epoch:
            complete, after = False, "0-0"
        start = event_key(after)
        newer = [message for event_id, message in events if event_key(event_id) > start]
        if len(newer) > limit:
            complete, newer = False, newer[:limit]
        if complete and all(event_id != after for event_id, _ in events):
            # Trimmed, or from a history since lost; "0-0" is "nothing seen yet".
            complete = after == "0-0" and not history.trimmed
        return Replay(history.epoch, newer, complete)

    def _held(self, channel: str) -> _History:
        """The channel's history, started anew (with a new epoch) when missing or expired."""
        history = self._history.get(channel)
        if history is None or self._expired(history):
            history = self._history[channel] = _History(self._history_length, self._monotonic())
        return history

    async def open_feed(self, deliver: Deliver, resubscribed: Resubscribed) -> MemoryEventFeed:
        feed = MemoryEventFeed(self, deliver)
        self.feeds.add(feed)
        return feed

    def _expired(self, history: _History) -> bool:
        return self._monotonic() - history.touched > self._ttl

    def _forget_expired(self) -> None:
        for channel in [name for name, kept in self._history.items() if self._expired(kept)]:
            del self._history[channel]

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        self._history.clear()
        for feed in tuple(self.feeds):
            await feed.close()
