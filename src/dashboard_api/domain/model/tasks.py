"""Tasks that agents run: the record, its lifecycle rules and the questions asked of it."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

import msgspec

from dashboard_api.domain.errors import Conflict, InvalidInput
from dashboard_api.domain.model.cost import CostBreakdown, CostSource


class TaskStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    WAITING_INPUT = "waiting_input"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset({TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED})
ACTIVE_STATUSES = (TaskStatus.QUEUED, TaskStatus.RUNNING, TaskStatus.WAITING_INPUT)

# Work only moves forward: a task may skip states (an engine may report only the end), it never
# goes back to the queue, and a terminal state is final.
ALLOWED_TRANSITIONS: dict[TaskStatus, frozenset[TaskStatus]] = {
    TaskStatus.QUEUED: frozenset(
        {
            TaskStatus.RUNNING,
            TaskStatus.WAITING_INPUT,
            TaskStatus.COMPLETED,
            TaskStatus.FAILED,
            TaskStatus.CANCELLED,
        }
    ),
    TaskStatus.RUNNING: frozenset(
        {TaskStatus.WAITING_INPUT, TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED}
    ),
    TaskStatus.WAITING_INPUT: frozenset(
        {TaskStatus.RUNNING, TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED}
    ),
    TaskStatus.COMPLETED: frozenset(),
    TaskStatus.FAILED: frozenset(),
    TaskStatus.CANCELLED: frozenset(),
}


class Task(msgspec.Struct, kw_only=True, frozen=True, gc=False):
    """One unit of work an agent runs. `version` counts persisted changes (optimistic locking).

    `gc=False`: a task holds only scalars (and a breakdown of scalars), so it can never be part
    of a reference cycle; untracked, the thousands an ingest batch builds do not trigger and
    lengthen the cyclic collector's passes (docs/benchmarks-realtime.md, "Durable ingestion")."""

    task_id: str
    status: TaskStatus
    agent_type: str
    source: str
    created_at: datetime
    input_message: str = ""
    assigned_agent: str | None = None
    session_id: str | None = None
    conversation_id: str | None = None
    output: str | None = None
    error: str | None = None
    model: str | None = None
    cost_usd: Decimal = Decimal("0")
    price_version: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    # Subsets of cache_write_tokens and output_tokens, priced apart (see domain/cost.Usage).
    cache_write_1h_tokens: int = 0
    reasoning_tokens: int = 0
    cost_source: CostSource | None = None
    cost_breakdown: CostBreakdown | None = None
    # What the engine itself reported it spent, kept beside `cost_usd` (which analytics sum):
    # equal to it when the cost is `reported`, the engine's own figure when it is `computed`.
    reported_cost_usd: Decimal | None = None
    retry_of: str | None = None  # the failed or cancelled task this one runs again
    started_at: datetime | None = None
    completed_at: datetime | None = None
    version: int = 1

    @property
    def duration_seconds(self) -> float | None:
        """The seed's duration: from creation to completion."""
        return seconds_between(self.created_at, self.completed_at)

    @property
    def run_seconds(self) -> float | None:
        """Time actually spent running: from start to completion."""
        return seconds_between(self.started_at, self.completed_at)

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


class TaskView(msgspec.Struct, frozen=True, gc=False):
    """A task as a read of one task shows it: every field, the cost's source as the price
    rules tell it (`inferred_source`) and the two durations, in the order of the HTTP detail
    (`http/schemas/tasks.TaskDetail`, whose JSON it encodes to byte for byte). A store builds
    it straight from its row (no `Task` in between, ~5 us a by-id read); positional, so the
    store's one call passes the fields without keywords (docs/benchmarks.md, "By id: the
    detail from the row")."""

    task_id: str
    status: TaskStatus
    agent_type: str
    source: str
    assigned_agent: str | None
    session_id: str | None
    conversation_id: str | None
    input_message: str
    output: str | None
    error: str | None
    model: str | None
    cost_usd: Decimal
    price_version: str | None
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cache_write_1h_tokens: int
    reasoning_tokens: int
    cost_source: CostSource | None
    cost_breakdown: CostBreakdown | None
    reported_cost_usd: Decimal | None
    retry_of: str | None
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    duration_seconds: float | None
    run_seconds: float | None

    @classmethod
    def of(cls, task: Task) -> TaskView:
        return cls(
            task.task_id,
            task.status,
            task.agent_type,
            task.source,
            task.assigned_agent,
            task.session_id,
            task.conversation_id,
            task.input_message,
            task.output,
            task.error,
            task.model,
            task.cost_usd,
            task.price_version,
            task.input_tokens,
            task.output_tokens,
            task.cache_read_tokens,
            task.cache_write_tokens,
            task.cache_write_1h_tokens,
            task.reasoning_tokens,
            inferred_source(task.cost_source, task.price_version, task.cost_usd),
            task.cost_breakdown,
            task.reported_cost_usd,
            task.retry_of,
            task.created_at,
            task.started_at,
            task.completed_at,
            task.duration_seconds,
            task.run_seconds,
        )


def inferred_source(
    cost_source: CostSource | None, price_version: str | None, cost: object
) -> CostSource | None:
    """Where a task's cost came from. Tasks stored before sources were recorded have none:
    a price version means the table computed it, any other non-zero cost was reported."""
    if cost_source is not None:
        return cost_source
    if price_version is not None:
        return CostSource.COMPUTED
    return CostSource.REPORTED if cost else None


class TaskSummary(msgspec.Struct, kw_only=True, frozen=True):
    """A task as a list shows it: no large text, the input cut to a preview."""

    task_id: str
    status: TaskStatus
    agent_type: str
    source: str
    created_at: datetime
    input_preview: str
    assigned_agent: str | None
    session_id: str | None
    conversation_id: str | None
    model: str | None
    cost_usd: Decimal
    input_tokens: int
    output_tokens: int
    started_at: datetime | None
    completed_at: datetime | None


INPUT_PREVIEW_CHARS = 200


def seconds_between(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return (end - start).total_seconds()


def check_transition(task: Task, new_status: TaskStatus) -> None:
    """Refuse a status change the lifecycle does not allow, naming the current status."""
    if new_status == task.status and not task.status.is_terminal:
        return
    if new_status == task.status:
        return  # re-reporting the final state is a harmless retry
    if new_status not in ALLOWED_TRANSITIONS[task.status]:
        raise Conflict(
            f"task {task.task_id} is {task.status.value}; it cannot become {new_status.value}",
            task_id=task.task_id,
            current_status=task.status.value,
            requested_status=new_status.value,
        )


def check_times(task: Task) -> None:
    """Timestamps must follow the lifecycle: created <= started <= completed."""
    if task.started_at is not None and task.started_at < task.created_at:
        raise InvalidInput("started_at is before created_at", field="started_at")
    if task.completed_at is not None:
        start = task.started_at or task.created_at
        if task.completed_at < start:
            raise InvalidInput("completed_at is before the task started", field="completed_at")


class TaskQuery(msgspec.Struct, kw_only=True, frozen=True):
    """Filters of the task list; every one is optional and they combine with AND."""

    statuses: tuple[TaskStatus, ...] = ()
    agent_type: str | None = None
    assigned_agent: str | None = None
    source: str | None = None
    session_id: str | None = None
    conversation_id: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    text: str | None = None
    limit: int = 50
    after: TaskCursor | None = None


class TaskWindow(msgspec.Struct, kw_only=True, frozen=True):
    """Tasks created in [start, end), optionally of one agent type (what analytics reads)."""

    start: datetime
    end: datetime
    agent_type: str | None = None


class TaskCursor(msgspec.Struct, frozen=True, array_like=True):
    """Keyset position in the newest-first order: the last row a page showed."""

    created_at: datetime
    task_id: str


class AgentActivity(msgspec.Struct, kw_only=True, frozen=True):
    agent_type: str
    queued: int
    running: int
    last_activity_at: datetime | None


class TaskCounts(msgspec.Struct, kw_only=True, frozen=True):
    queued: int = 0
    running: int = 0
    waiting_input: int = 0


UNSET = msgspec.UNSET


UnsetType = msgspec.UnsetType


class NewTask(msgspec.Struct, kw_only=True, frozen=True, gc=False):  # scalars only: as Task
    agent_type: str
    input_message: str = ""
    task_id: str | None = None
    status: TaskStatus = TaskStatus.QUEUED
    source: str = "api"
    assigned_agent: str | None = None
    session_id: str | None = None
    conversation_id: str | None = None
    model: str | None = None
    created_at: datetime | None = None


class TaskPatch(msgspec.Struct, kw_only=True, frozen=True, gc=False):
    """A partial change: fields left UNSET keep their value. Scalars only: untracked, as Task."""

    status: TaskStatus | UnsetType = UNSET
    assigned_agent: str | UnsetType | None = UNSET
    session_id: str | UnsetType | None = UNSET
    # Linking a task to a conversation later (an engine that registers both after the task).
    conversation_id: str | UnsetType | None = UNSET
    output: str | UnsetType | None = UNSET
    error: str | UnsetType | None = UNSET
    model: str | UnsetType | None = UNSET
    cost_usd: Decimal | UnsetType = UNSET
    input_tokens: int | UnsetType = UNSET
    output_tokens: int | UnsetType = UNSET
    cache_read_tokens: int | UnsetType = UNSET
    cache_write_tokens: int | UnsetType = UNSET
    cache_write_1h_tokens: int | UnsetType = UNSET
    reasoning_tokens: int | UnsetType = UNSET
    started_at: datetime | UnsetType = UNSET
    completed_at: datetime | UnsetType = UNSET
    # A caller that priced the usage itself (OTLP prices each span at its own time) says where
    # `cost_usd` came from; without it a given `cost_usd` is the engine's reported figure.
    cost_source: CostSource | UnsetType = UNSET
    price_version: str | UnsetType | None = UNSET
    cost_breakdown: CostBreakdown | UnsetType | None = UNSET
    reported_cost_usd: Decimal | UnsetType | None = UNSET
