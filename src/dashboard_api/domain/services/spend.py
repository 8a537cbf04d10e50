"""Spend per user, conversation and source: kept with each task change, answered by rank."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from dashboard_api.domain.errors import InvalidInput
from dashboard_api.domain.model.buckets import hour_of
from dashboard_api.domain.model.spend import (
    SpendDimension,
    SpendPart,
    SpendTotal,
    summed_spend_changes,
)
from dashboard_api.domain.model.tasks import Task

if TYPE_CHECKING:
    from dashboard_api.domain.ports import SpendStore, UnitOfWork


async def record_task_spend(uow: UnitOfWork, before: Task | None, after: Task) -> None:
    """Keep the spend rows exact, in the transaction that writes the task."""
    await record_tasks_spend(uow, [(before, after)])


def _moves_spend(before: Task | None, after: Task) -> bool:
    return before is None or any(
        getattr(before, f) != getattr(after, f)
        for f in ("cost_usd", "input_tokens", "output_tokens", "conversation_id", "source")
    )


async def record_tasks_spend(uow: UnitOfWork, moves: Sequence[tuple[Task | None, Task]]) -> None:
    """Keep the spend rows exact for tasks moving from `before` to `after` (an ingest batch),
    in the transaction that writes them: one read of the users, and one write of the deltas
    summed per key, in key order. Written row by row, the spend was most of a batch's
    statements (273.6 of 283.5 per 500 events, bench/ingest_profile.py)."""
    moves = [(before, after) for before, after in moves if _moves_spend(before, after)]
    if not moves:
        return
    linked = {
        conversation_id
        for before, after in moves
        for conversation_id in (after.conversation_id, before.conversation_id if before else None)
        if conversation_id is not None
    }
    found = await uow.conversations.get_many(sorted(linked)) if linked else {}
    users: dict[str | None, str | None] = {
        conversation_id: found[conversation_id].user_id if conversation_id in found else None
        for conversation_id in linked
    }
    users[None] = None
    parts: list[SpendPart] = []
    for before, after in moves:
        if before is not None:
            parts.append((before, users[before.conversation_id], -1))
        parts.append((after, users[after.conversation_id], 1))
    changes = summed_spend_changes(parts)
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
