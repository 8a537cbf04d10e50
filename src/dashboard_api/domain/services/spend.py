"""Spend per user, conversation and source: kept with each task change, answered by rank."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from dashboard_api.domain.errors import InvalidInput
from dashboard_api.domain.model.buckets import hour_of
from dashboard_api.domain.model.spend import SpendDimension, SpendTotal, spend_changes
from dashboard_api.domain.model.tasks import Task

if TYPE_CHECKING:
    from dashboard_api.domain.ports import SpendStore, UnitOfWork


async def record_task_spend(uow: UnitOfWork, before: Task | None, after: Task) -> None:
    """Keep the spend rows exact, in the transaction that writes the task."""
    if before is not None and all(
        getattr(before, f) == getattr(after, f)
        for f in ("cost_usd", "input_tokens", "output_tokens", "conversation_id", "source")
    ):
        return
    users: dict[str | None, str | None] = {None: None}
    for conversation_id in {after.conversation_id, before.conversation_id if before else None}:
        if conversation_id is not None:
            conversation = await uow.conversations.get(conversation_id)
            users[conversation_id] = conversation.user_id if conversation else None
    changes = spend_changes(
        before,
        after,
        users[before.conversation_id] if before else None,
        users[after.conversation_id],
    )
    if changes:
        await uow.spend.add(changes)


class SpendService:
    """Spend grouped by user, conversation or source over a window of whole hours."""

    def __init__(self, store: SpendStore | None) -> None:
        self._store = store

    async def totals(
        self,
        dimension: SpendDimension,
        start: datetime | None,
        end: datetime | None,
        *,
        key: str | None = None,
        limit: int = 100,
    ) -> list[SpendTotal]:
        for moment, field in ((start, "from"), (end, "to")):
            if moment is not None and moment != hour_of(moment):
                # The rows are hourly: a window cut inside an hour could not be exact.
                raise InvalidInput(f"{field} must be a whole UTC hour", field=field)
        if start is not None and end is not None and start >= end:
            raise InvalidInput("from must be before to", field="from")
        if self._store is None:
            return []
        return await self._store.totals(dimension, start, end, key=key, limit=limit)
