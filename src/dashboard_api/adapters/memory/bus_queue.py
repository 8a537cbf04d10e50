"""The embedded default work queue: entries are published on the in-process bus, on a channel
named after the queue, where an in-process engine (the demo's) listens."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dashboard_api.domain.ports import EventBus


class BusWorkQueue:
    def __init__(self, bus: EventBus) -> None:
        self._bus = bus

    async def push(self, queue: str, entry_id: str, payload: Mapping[str, Any]) -> None:
        await self._bus.publish(queue, {**payload, "entry_id": entry_id})
