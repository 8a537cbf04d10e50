"""What the domain needs from the outside world, named for the need, not the technology."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Protocol, Self

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


class UnitOfWork(Protocol):
    """One transaction across the stores: nothing is visible to others until `commit`."""

    @property
    def tasks(self) -> TaskStore: ...

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
