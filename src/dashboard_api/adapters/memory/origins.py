"""Flows and task origins in memory, with the SQL store's first-link-wins rule."""

from __future__ import annotations

import asyncio

from dashboard_api.domain.model.origins import ConversationFlow, TaskOrigin, merged_origin


class MemoryOriginStore:
    def __init__(self) -> None:
        self.flows: dict[str, ConversationFlow] = {}
        self.origins: dict[str, TaskOrigin] = {}
        self._lock = asyncio.Lock()

    async def link_flow(self, flow: ConversationFlow) -> ConversationFlow:
        return self.flows.setdefault(flow.flow_id, flow)

    async def flow(self, flow_id: str) -> ConversationFlow | None:
        return self.flows.get(flow_id)

    async def put_origin(self, origin: TaskOrigin) -> TaskOrigin:
        async with self._lock:
            merged = merged_origin(self.origins.get(origin.task_id), origin)
            self.origins[origin.task_id] = merged
            return merged

    async def origin(self, task_id: str) -> TaskOrigin | None:
        return self.origins.get(task_id)
