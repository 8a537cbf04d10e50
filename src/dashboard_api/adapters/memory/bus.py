"""The in-process event bus: the embedded default, with bounded per-channel history."""

from __future__ import annotations

import itertools
from collections import deque

from dashboard_api.domain.ports import Event


class MemoryEventBus:
    def __init__(self, *, history_length: int = 1000) -> None:
        self._history_length = history_length
        self._history: dict[str, deque[tuple[str, Event]]] = {}
        self._sequence = itertools.count(1)

    async def publish(self, channel: str, event: Event) -> str:
        event_id = f"{next(self._sequence)}"
        history = self._history.get(channel)
        if history is None:
            history = self._history[channel] = deque(maxlen=self._history_length)
        history.append((event_id, event))
        return event_id

    def history(self, channel: str) -> list[tuple[str, Event]]:
        """What the channel still remembers, oldest first."""
        return list(self._history.get(channel, ()))

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        self._history.clear()
