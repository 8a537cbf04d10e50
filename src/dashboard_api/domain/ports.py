"""What the domain needs from the outside world, named for the need, not the technology."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, Self

from dashboard_api.domain.model.budgets import Alert, DeliveryAttempt
from dashboard_api.domain.model.channels import Event, Replay
from dashboard_api.domain.model.conversations import (
    Conversation,
    ConversationQuery,
    ConversationTotals,
    Message,
    MessageQuery,
)
from dashboard_api.domain.model.ingestion import IngestStats, Lease
from dashboard_api.domain.model.origins import ConversationFlow, TaskOrigin
from dashboard_api.domain.model.rollups import (
    CompactedTotals,
    DayRange,
    RollupChange,
    RollupQuery,
    RollupState,
    RollupTotal,
    Watermark,
)
from dashboard_api.domain.model.sources import DataSource, OAuthInstallation, SourceCursor
from dashboard_api.domain.model.spend import SpendChange, SpendDimension, SpendTotal
from dashboard_api.domain.model.tasks import (
    AgentActivity,
    Task,
    TaskCounts,
    TaskQuery,
    TaskSummary,
    TaskView,
    TaskWindow,
)
from dashboard_api.domain.model.webhooks import (
    RollupDelta,
    RollupSum,
    TimeRange,
    WebhookConfig,
    WebhookEvent,
    WebhookEventQuery,
)

if TYPE_CHECKING:
    from dashboard_api.domain.model.handoff import OutboxEntry
    from dashboard_api.domain.model.retention import DataKind


class TaskStore(Protocol):
    """Where tasks live. Writes raise `Conflict` for a duplicate id."""

    async def add(self, task: Task) -> None: ...

    async def get(self, task_id: str) -> Task | None: ...

    async def get_view(self, task_id: str) -> TaskView | None:
        """`TaskView.of(get(task_id))`, built from the stored row where the backend can."""
        ...

    async def get_many(self, task_ids: Sequence[str]) -> dict[str, Task]:
        """Those of the tasks that exist, by id (one read for a batch). Inside a unit of work
        their rows stay locked until it ends, so `replace_many` needs no version check."""
        ...

    async def replace_many(self, tasks: Sequence[Task]) -> None:
        """Store tasks this unit of work read (and locked) with `get_many` (one statement)."""
        ...

    async def add_many(self, tasks: Sequence[Task]) -> None:
        """Add new tasks at once (one statement); `Conflict` if one exists."""
        ...

    async def save_many(self, added: Sequence[Task], replaced: Sequence[Task]) -> None:
        """`add_many(added)` and `replace_many(replaced)` in one statement where the backend
        can (an ingest batch's tasks); `Conflict` if an added one exists."""
        ...

    async def replace(self, task: Task, *, expected_version: int) -> bool:
        """Store `task` if the stored one still has `expected_version`; False if it moved on."""
        ...

    async def find(self, query: TaskQuery) -> list[TaskSummary]:
        """At most `query.limit` tasks matching the query, newest first, after `query.after`."""
        ...

    async def agent_activity(self) -> list[AgentActivity]: ...

    async def active_counts(self) -> TaskCounts: ...

    async def session_ids(self, window: TaskWindow, *, after: str | None, limit: int) -> list[str]:
        """Up to `limit` ids of sessions with tasks in the window, ascending, past `after`."""
        ...

    async def session_tasks(self, window: TaskWindow, session_ids: Sequence[str]) -> list[Task]:
        """The window's tasks of those sessions, by session then creation, with the figure
        columns only: the text fields (input_message, output, error) come back empty."""
        ...


class RollupStore(Protocol):
    """Pre-computed task figures per hour and day, agent type, model and status."""

    async def record(self, changes: Sequence[RollupChange]) -> None:
        """Add the changes in the current unit of work (the task change's transaction)."""
        ...

    async def state(
        self, *days: DayRange, unchanged_since: Watermark | None = None
    ) -> RollupState | None:
        """Where the rollups stand (see RollupState), across processes. Read it before the
        figures it vouches for: the compacted rows of a range stay as read while its
        `(rebuilds, folded)` does not move, and those plus the pending changes of its days are
        its figures. None when the watermark still is `unchanged_since` (nothing changed
        since the state that carried it): then only the watermark is read."""
        ...

    async def read_compacted(self, *queries: RollupQuery) -> list[CompactedTotals]:
        """The totals of the compacted rows of each DAYS or HOURS query."""
        ...

    async def read(self, *queries: RollupQuery) -> list[list[RollupTotal]]:
        """The totals of each query, in order: one round of reads, and one consistent view,
        for everything one answer needs."""
        ...

    async def rebuild(self) -> int:
        """Recompute every rollup from the tasks; returns how many tasks were counted."""
        ...


class ConversationStore(Protocol):
    async def add(self, conversation: Conversation) -> None: ...

    async def get(self, conversation_id: str) -> Conversation | None: ...

    async def get_many(self, conversation_ids: Sequence[str]) -> dict[str, Conversation]:
        """Those of the conversations that exist, by id (one read for a batch)."""
        ...

    async def update(self, conversation: Conversation) -> bool:
        """Store title, archived and updated_at (never totals); False if it does not exist."""
        ...

    async def delete(self, conversation_id: str) -> bool:
        """Delete the conversation and its messages; False if it did not exist."""
        ...

    async def find(self, query: ConversationQuery) -> list[Conversation]:
        """At most `query.limit`, most recently active first, after `query.after`."""
        ...

    async def add_totals(
        self, conversation_id: str, delta: ConversationTotals, *, active_at: datetime | None
    ) -> None:
        """Add `delta` to the totals in place (no lost update under concurrency); move
        `updated_at` to `active_at` when given. A conversation that does not exist is ignored."""
        ...

    async def add_totals_many(self, deltas: Mapping[str, ConversationTotals]) -> None:
        """`add_totals` for several conversations at once (one statement), in the order given."""
        ...


class MessageStore(Protocol):
    async def add(self, message: Message) -> None: ...

    async def find(self, query: MessageQuery) -> list[Message]:
        """At most `query.limit` messages of one conversation, oldest first, after `query.after`."""
        ...


class Outbox(Protocol):
    """Hand-offs written with the change that needs them, pending until relayed."""

    async def add(self, entry: OutboxEntry) -> None: ...

    async def claim(self, limit: int) -> list[OutboxEntry]:
        """The oldest pending entries, locked against other relays until this unit ends."""
        ...

    async def remove(self, entry_id: str) -> None: ...


class WorkQueue(Protocol):
    """Where outside workers take their work from (a Redis Stream per queue in production)."""

    async def push(self, queue: str, entry_id: str, payload: Mapping[str, Any]) -> None: ...


class WebhookEventStore(Protocol):
    async def add(self, event: WebhookEvent) -> None: ...

    async def get(self, event_id: str) -> WebhookEvent | None: ...

    async def replace(self, event: WebhookEvent) -> None: ...

    async def find(self, query: WebhookEventQuery) -> list[WebhookEvent]:
        """Newest first, without payloads."""
        ...


class WebhookRollupStore(Protocol):
    async def apply(self, deltas: list[RollupDelta]) -> None: ...

    async def sums(
        self, ranges: list[TimeRange], *, webhook_id: str | None, provider: str | None
    ) -> list[RollupSum]:
        """Rows of the given spans whose start lies in a range, summed per webhook, provider
        and status."""
        ...


class WebhookConfigSource(Protocol):
    async def all(self) -> list[WebhookConfig]: ...


class SourceStore(Protocol):
    async def add(self, source: DataSource) -> None: ...

    async def get(self, source_id: str) -> DataSource | None: ...

    async def replace(self, source: DataSource, *, expected_version: int) -> bool: ...

    async def delete(self, source_id: str) -> bool: ...

    async def find(self, *, limit: int, after: SourceCursor | None) -> list[DataSource]:
        """Newest first."""
        ...


class OAuthStatusStore(Protocol):
    async def put(self, installation: OAuthInstallation) -> None: ...

    async def all(self) -> list[OAuthInstallation]: ...


class UnitOfWork(Protocol):
    """One transaction across the stores: nothing is visible to others until `commit`."""

    @property
    def tasks(self) -> TaskStore: ...

    @property
    def rollups(self) -> RollupStore: ...

    @property
    def conversations(self) -> ConversationStore: ...

    @property
    def messages(self) -> MessageStore: ...

    @property
    def outbox(self) -> Outbox: ...

    @property
    def webhook_events(self) -> WebhookEventStore: ...

    @property
    def webhook_rollups(self) -> WebhookRollupStore: ...

    @property
    def sources(self) -> SourceStore: ...

    @property
    def processed_events(self) -> ProcessedEvents: ...

    @property
    def spend(self) -> SpendStore: ...

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

    async def publish_many(self, events: Sequence[tuple[str, Event]]) -> list[str]:
        """Publish each `(channel, event)` as `publish` would, in one go: the ids in the same
        order. Events of one channel are published in the order given; a failure may leave
        the earlier ones published (each stays whole: in history and live, or in neither)."""
        ...

    async def stage(
        self, outbox: str, token: str, events: Sequence[tuple[str, Event]]
    ) -> list[str]:
        """Keep `events` in `outbox` under `token` until `publish_staged` or `drop_staged`:
        kept where the bus keeps history, and written before the change they announce
        commits, so that a process that dies between that commit and the publish leaves them
        to whoever applies next (who publishes them if the change committed). Replaces what
        `token` held (a stage whose change did not commit), and puts it last. Returns the
        other tokens `outbox` holds, oldest first (read in the same step)."""
        ...

    async def staged(self, outbox: str) -> list[str]:
        """The tokens `outbox` holds, oldest first."""
        ...

    async def publish_staged(self, outbox: str, token: str) -> None:
        """Publish what `token` still holds, as `publish_many` would, and remove it; each part
        is removed in the step that publishes it, so nothing is published twice. Nothing to
        do when `token` holds nothing."""
        ...

    async def drop_staged(self, outbox: str, token: str) -> None:
        """Forget what `token` holds, unpublished (the change it announced did not commit)."""
        ...

    async def history(self, channel: str, *, after: str | None, limit: int) -> list[bytes]:
        """Messages of `channel` still in history, oldest first, with ids after `after`
        (or the latest `limit` when `after` is None), each `{"id":"<id>",...}`."""
        ...

    async def replay(
        self, channel: str, *, after: str | None, epoch: str | None, limit: int
    ) -> Replay:
        """The channel's epoch (created when it has none) and its messages after `after` (the
        latest `limit` when None). When `epoch` is not the current one, history was lost since
        the caller saw it: everything now held is returned and the replay is not complete."""
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
    """The durable queue of engine events: delivered at least once, acknowledged after use.

    One consumer applies at a time (the holder of the lease), so events are applied in the
    order they were added; the others stand by and take over when the lease lapses."""

    async def add(self, payload: bytes) -> str:
        """Append an event (what an engine does); returns the entry id."""
        ...

    async def lead(self) -> Lease:
        """Take or renew the consumer lease; call well within its duration."""
        ...

    async def resign(self) -> None:
        """Give the lease up (a clean shutdown), so a standby takes over at once."""
        ...

    async def take_over(self) -> int:
        """Make every entry any consumer left unacknowledged this consumer's own (just after
        taking the lease); returns how many were pending."""
        ...

    async def pending(self, *, after: str, limit: int) -> list[IngestDelivery]:
        """This consumer's unacknowledged entries with ids after `after` ("0-0": all), oldest
        first."""
        ...

    async def read(self, *, limit: int, block_ms: int) -> list[IngestDelivery]:
        """New entries, oldest first, waiting up to `block_ms` for the first one."""
        ...

    async def ack(self, deliveries: Sequence[IngestDelivery]) -> None: ...

    async def reject(self, delivery: IngestDelivery, reason: str) -> None:
        """Record the entry as refused (dead letter) and acknowledge it."""
        ...

    async def stats(self) -> IngestStats: ...


class ProcessedEvents(Protocol):
    """Ids of engine events already applied: what makes a redelivered event change nothing."""

    async def contains(self, event_id: str) -> bool: ...

    async def seen(self, event_ids: Sequence[str]) -> set[str]:
        """Those of `event_ids` already marked."""
        ...

    async def add(self, event_id: str, processed_at: datetime) -> None: ...

    async def add_many(self, event_ids: Sequence[str], processed_at: datetime) -> None:
        """Mark several events at once (one statement); `Conflict` if one was marked."""
        ...

    async def claim(self, event_ids: Sequence[str], processed_at: datetime) -> set[str]:
        """Mark those of `event_ids` not marked yet, in one statement, and return them (an id
        given twice is marked once); the others were marked before. Inside a unit of work, a
        mark another unit is writing is waited for: claimed here only if that one rolls back."""
        ...

    async def release(self, event_ids: Sequence[str]) -> None:
        """Remove marks this unit of work claimed (events it decided not to apply after all)."""
        ...

    async def forget_before(self, moment: datetime) -> int:
        """Drop the marks of events processed before `moment` (retention); returns how many."""
        ...


class TicketStore(Protocol):
    """Short-lived, single-use tickets: how a browser opens the WebSocket without putting a
    long-lived secret in its URL. Shared by every replica when it lives in Redis."""

    async def issue(self, ticket: str, holder: str, ttl_seconds: int) -> None:
        """Remember `ticket` for `holder` during `ttl_seconds`."""
        ...

    async def redeem(self, ticket: str) -> str | None:
        """The ticket's holder, once: None if unknown, already redeemed or expired."""
        ...


class RequestCounter(Protocol):
    """Counts requests per key (a client and a budget in one time window): the storage of the
    rate limits, shared by every replica when it lives in Redis."""

    async def add(self, key: str, amount: int, *, ttl_seconds: int) -> int:
        """Add `amount` to `key`'s count and return the new count; the key is forgotten
        `ttl_seconds` after its first count."""


class AlertStore(Protocol):
    """Fired alerts and their delivery attempts. `fire` is what deduplicates: across replicas
    and restarts, an alert id is stored once, and only the caller that stored it sends it."""

    async def fire(self, alert: Alert) -> bool:
        """Store the alert unless its id is there already; True when this call stored it."""
        ...

    async def recent(self, *, limit: int, before: datetime | None = None) -> list[Alert]:
        """Alerts newest first (by fired_at, then id), fired before `before` when given."""
        ...

    async def record_attempt(self, attempt: DeliveryAttempt) -> None: ...

    async def attempts(self, alert_id: str) -> list[DeliveryAttempt]: ...


class AlertSender(Protocol):
    """POSTs a signed alert to one outgoing webhook; returns the HTTP status, raises OSError
    (or a subclass) when the endpoint cannot be reached."""

    async def send(self, endpoint: str, headers: Mapping[str, str], body: bytes) -> int: ...


class RetentionStore(Protocol):
    async def prune(self, kind: DataKind, before: datetime, limit: int) -> int:
        """Trim or delete up to `limit` rows of `kind` created before `before`, oldest first,
        in one short transaction; returns how many. Unfinished tasks are never touched."""
        ...


class SpendStore(Protocol):
    """Hourly spend per user, conversation and source (domain/spend.py)."""

    async def add(self, changes: Sequence[SpendChange]) -> None: ...

    async def totals(
        self,
        dimension: SpendDimension,
        start: datetime | None,
        end: datetime | None,
        *,
        key: str | None = None,
        limit: int = 100,
    ) -> list[SpendTotal]:
        """Sums per key of the hours in [start, end) (whole hours), highest cost first."""
        ...


class OriginStore(Protocol):
    """Flows of conversations and origins of tasks (domain/origins.py). Each write is atomic
    on its own: a flow is claimed by the first conversation that links it."""

    async def link_flow(self, flow: ConversationFlow) -> ConversationFlow:
        """Store the flow unless its id is linked already; returns the flow that holds it."""
        ...

    async def flow(self, flow_id: str) -> ConversationFlow | None: ...

    async def put_origin(self, origin: TaskOrigin) -> TaskOrigin:
        """Merge the origin into the stored one (`merged_origin`); returns the result."""
        ...

    async def origin(self, task_id: str) -> TaskOrigin | None: ...
