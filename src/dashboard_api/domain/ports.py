"""What the domain needs from the outside world, named for the need, not the technology."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from types import TracebackType
from typing import Any, NamedTuple, Protocol, Self

import msgspec

from dashboard_api.domain.rollups import Figures, RollupChange
from dashboard_api.domain.tasks import AgentActivity, Task, TaskCounts, TaskQuery, TaskSummary


class TaskStore(Protocol):
    """Where tasks live. Writes raise `Conflict` for a duplicate id."""

    async def add(self, task: Task) -> None: ...

    async def get(self, task_id: str) -> Task | None: ...

    async def replace(self, task: Task, *, expected_version: int) -> bool:
        """Store `task` if the stored one still has `expected_version`; False if it moved on."""
        ...

    async def find(self, query: TaskQuery) -> list[TaskSummary]:
        """At most `query.limit` tasks matching the query, newest first, after `query.after`."""
        ...

    async def agent_activity(self) -> list[AgentActivity]: ...

    async def active_counts(self) -> TaskCounts: ...


class RollupSource(StrEnum):
    """Where figures of a time range come from: day rows, hour rows, or the tasks themselves."""

    DAYS = "days"
    HOURS = "hours"
    TASKS = "tasks"


class RollupQuery(msgspec.Struct, frozen=True, kw_only=True):
    """Sums over tasks created in [start, end) (None: unbounded), grouped as asked.

    DAYS needs day-aligned bounds, HOURS hour-aligned ones; TASKS takes any bounds and reads
    the tasks through the created_at index (for the partial hours at a window's edges).
    """

    source: RollupSource
    start: datetime | None = None
    end: datetime | None = None
    agent_type: str | None = None
    by_time: bool = False
    by_agent_type: bool = False
    by_model: bool = False


class RollupTotal(NamedTuple):
    """One group of a rollup read. `start` is the row's hour or day when grouped by time."""

    start: datetime | None
    agent_type: str | None
    model: str | None
    figures: Figures


class RollupStore(Protocol):
    """Pre-computed task figures per hour and day, agent type, model and status."""

    async def record(self, changes: Sequence[RollupChange]) -> None:
        """Add the changes in the current unit of work (the task change's transaction)."""
        ...

    async def read(self, *queries: RollupQuery) -> list[RollupTotal]:
        """The totals of every query, concatenated (one round of reads for one answer)."""
        ...

    async def rebuild(self) -> int:
        """Recompute every rollup from the tasks; returns how many tasks were counted."""
        ...


class UnitOfWork(Protocol):
    """One transaction across the stores: nothing is visible to others until `commit`."""

    @property
    def tasks(self) -> TaskStore: ...

    @property
    def rollups(self) -> RollupStore: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Roll back whatever was not committed."""
        ...

    async def commit(self) -> None: ...


UnitOfWorkFactory = Callable[[], UnitOfWork]

Event = Mapping[str, Any]


class EventBus(Protocol):
    """Delivers events to whoever listens on a channel, and remembers recent ones."""

    async def publish(self, channel: str, event: Event) -> str:
        """Publish `event` on `channel`; returns the id it got in the channel's history."""
        ...
