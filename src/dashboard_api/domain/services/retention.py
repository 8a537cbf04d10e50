"""Retention: after an age per kind of data, a background job trims or deletes it in small
batches (one short transaction each, so no long lock). Analytics read the rollups, which keep
their figures: pruning raw rows changes no total.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import timedelta

from dashboard_api.domain.clock import Clock, utc_now
from dashboard_api.domain.model.retention import DataKind
from dashboard_api.domain.ports import RetentionStore

_log = logging.getLogger(__name__)


class RetentionJob:
    """Prunes each kind older than its age; kinds without an age are kept forever."""

    def __init__(
        self,
        store: RetentionStore,
        ages: Mapping[DataKind, timedelta],
        *,
        batch: int = 500,
        pause_seconds: float = 0.05,
        clock: Clock = utc_now,
    ) -> None:
        self._store = store
        self._ages = dict(ages)
        self._batch = batch
        self._pause = pause_seconds
        self._clock = clock
        self.pruned: dict[DataKind, int] = dict.fromkeys(DataKind, 0)

    @property
    def enabled(self) -> bool:
        return bool(self._ages)

    async def run_once(self) -> dict[DataKind, int]:
        """One pass over every kind, batch after batch until nothing old is left; returns
        how many rows of each kind it pruned."""
        done: dict[DataKind, int] = {}
        for kind, age in self._ages.items():
            before = self._clock() - age
            total = 0
            while True:
                count = await self._store.prune(kind, before, self._batch)
                total += count
                if count < self._batch:
                    break
                await asyncio.sleep(self._pause)  # let the service's own writes in between
            self.pruned[kind] += total
            done[kind] = total
            if total:
                _log.info("retention pruned %d %s older than %s", total, kind.value, before)
        return done
