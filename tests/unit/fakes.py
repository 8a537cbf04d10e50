"""Fakes that keep what they were asked, for tests to assert on."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import msgspec

from dashboard_api.adapters.memory import MemoryEventBus
from dashboard_api.domain.model.channels import Event, StatusEvent


class RecordingBus(MemoryEventBus):
    """A real in-process bus that also keeps every event it was asked to publish."""

    def __init__(self) -> None:
        super().__init__()
        self.published: list[tuple[str, dict[str, object]]] = []
        self.batches: list[int] = []  # the size of each publish_many

    async def publish(self, channel: str, event: Event) -> str:
        self.published.append((channel, _as_dict(event)))
        return await super().publish(channel, event)

    async def publish_many(self, events: Sequence[tuple[str, Event]]) -> list[str]:
        self.batches.append(len(events))
        return await super().publish_many(events)

    def on(self, channel: str) -> list[dict[str, object]]:
        return [event for name, event in self.published if name == channel]


def _as_dict(event: Event) -> dict[str, object]:
    """The event as its mapping: a `StatusEvent` (an ingest batch's) as the dict its JSON
    decodes to, which is `status_event`'s (tests/unit/test_status_frame.py)."""
    if isinstance(event, StatusEvent):
        decoded: dict[str, object] = msgspec.json.decode(msgspec.json.encode(event))
        return decoded
    return dict(event)


class SteppingClock:
    """A clock that moves only when told."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now
