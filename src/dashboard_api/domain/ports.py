"""What the domain needs from the outside world, named for the need, not the technology."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
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

    @property
    def processed_events(self) -> ProcessedEvents: ...

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

# A live message as the bus carries it: (channel, JSON object bytes). Events published through
# the bus carry their history id as the first member, `{"id":"<id>",...}`; a raw publish from
# another Redis client may carry none.
Deliver = Callable[[str, bytes], None]
# Called with the channels that were subscribed again after the live connection came back.
Resubscribed = Callable[[list[str]], None]


class EventFeed(Protocol):
    """Live delivery of some of the bus's channels to this process."""

    async def subscribe(self, channel: str) -> None:
        """Returns once messages published on `channel` from now on will be delivered."""
        ...

    def unsubscribe(self, channel: str) -> None:
        """Stop live delivery of `channel`; takes effect in order with later `subscribe`s."""
        ...

    @property
    def connected(self) -> bool: ...

    async def close(self) -> None: ...


class EventBus(Protocol):
    """Delivers events to whoever listens on a channel, and remembers recent ones."""

    async def publish(self, channel: str, event: Event) -> str:
        """Publish `event` on `channel`; returns the id it got in the channel's history."""
        ...

    async def history(self, channel: str, *, after: str | None, limit: int) -> list[bytes]:
        """Messages of `channel` still in history, oldest first, with ids after `after`
        (or the latest `limit` when `after` is None), each `{"id":"<id>",...}`."""
        ...

    async def open_feed(self, deliver: Deliver, resubscribed: Resubscribed) -> EventFeed:
        """Start live delivery to `deliver`; `resubscribed` learns of every reconnection."""
        ...


class IngestDelivery(Protocol):
    """One entry of the durable ingest queue, handed out until it is acknowledged."""

    @property
    def entry_id(self) -> str: ...

    @property
    def payload(self) -> bytes: ...


class IngestQueue(Protocol):
    """The durable queue of engine events: delivered at least once, acknowledged after use."""

    async def add(self, payload: bytes) -> str:
        """Append an event (what an engine does); returns the entry id."""
        ...

    async def claim_stale(self, *, limit: int) -> list[IngestDelivery]:
        """Entries handed to a consumer that never acknowledged them (it crashed)."""
        ...

    async def read(self, *, limit: int, block_ms: int) -> list[IngestDelivery]:
        """New entries, waiting up to `block_ms` for the first one."""
        ...

    async def ack(self, delivery: IngestDelivery) -> None: ...

    async def reject(self, delivery: IngestDelivery, reason: str) -> None:
        """Record the entry as refused (dead letter) and acknowledge it."""
        ...


class ProcessedEvents(Protocol):
    """Ids of engine events already applied: what makes a redelivered event change nothing."""

    async def contains(self, event_id: str) -> bool: ...

    async def add(self, event_id: str, processed_at: datetime) -> None: ...
