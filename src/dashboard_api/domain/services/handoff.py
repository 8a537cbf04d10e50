"""Handing work to outside workers (the agent engine, the indexer) without losing or inventing it.

A hand-off is written as an outbox entry in the same transaction as the change that needs it,
then relayed to the work queue after commit. A crash between the two leaves the entry pending,
and the relay delivers it on its next round: at least once, deduplicated by `entry_id`.
"""

from __future__ import annotations

from dashboard_api.domain.ports import UnitOfWorkFactory, WorkQueue


class HandoffRelay:
    """Moves committed outbox entries to their work queue; safe to run on several replicas."""

    def __init__(self, *, unit_of_work: UnitOfWorkFactory, work_queue: WorkQueue) -> None:
        self._uow = unit_of_work
        self._queue = work_queue

    async def deliver_pending(self, *, batch: int = 100) -> int:
        """Deliver up to `batch` pending entries, oldest first; returns how many were delivered.

        An entry leaves the outbox only in the transaction that follows its delivery, so a
        failure to push (queue down) keeps it pending for the next round.
        """
        async with self._uow() as uow:
            entries = await uow.outbox.claim(batch)
            for entry in entries:
                await self._queue.push(entry.queue, entry.entry_id, entry.payload)
                await uow.outbox.remove(entry.entry_id)
            await uow.commit()
        return len(entries)

    async def deliver_all(self, *, batch: int = 100) -> int:
        delivered = 0
        while (count := await self.deliver_pending(batch=batch)) > 0:
            delivered += count
            if count < batch:
                break
        return delivered
