"""The bodies of the task routes: the wire contract, validated by msgspec before a handler runs."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

import msgspec
from litestar.params import KwargDefinition
from msgspec import UNSET, UnsetType

from dashboard_api.domain.errors import InvalidInput
from dashboard_api.domain.limits import Label, Name
from dashboard_api.domain.model.cost import CostBreakdown, CostSource
from dashboard_api.domain.model.pricing import source_of
from dashboard_api.domain.model.tasks import (
    AgentActivity,
    NewTask,
    Task,
    TaskPatch,
    TaskStatus,
)
from dashboard_api.domain.times import optional_utc, to_utc
from dashboard_api.http.schemas.fields import LongText, TaskId, Tokens

MAX_COST_USD = Decimal("1000000")
# A task starts queued or running (the service refuses the rest): declared so clients know.
NewTaskStatus = Literal["queued", "running"]
# msgspec cannot bound a Decimal: check_cost does, and the document declares it.
CostUsd = Annotated[
    Decimal, KwargDefinition(ge=0, le=float(MAX_COST_USD), description="US dollars, exact")
]


def check_cost(cost: Decimal | UnsetType) -> Decimal | UnsetType:
    if cost is UNSET:
        return cost
    if not cost.is_finite() or cost < 0 or cost > MAX_COST_USD:
        raise InvalidInput(f"cost_usd must be between 0 and {MAX_COST_USD}", field="cost_usd")
    return cost


class TaskCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    agent_type: Name
    input_message: LongText = ""
    task_id: TaskId | None = None
    status: NewTaskStatus = "queued"
    source: Name = "api"
    assigned_agent: Label | None = None
    session_id: Label | None = None
    conversation_id: TaskId | None = None
    model: Label | None = None
    created_at: datetime | None = None

    def to_domain(self) -> NewTask:
        return NewTask(
            agent_type=self.agent_type,
            input_message=self.input_message,
            task_id=self.task_id,
            status=TaskStatus(self.status),
            source=self.source,
            assigned_agent=self.assigned_agent,
            session_id=self.session_id,
            conversation_id=self.conversation_id,
            model=self.model,
            created_at=optional_utc(self.created_at, "created_at"),
        )


class TaskUpdate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    status: TaskStatus | UnsetType = UNSET
    assigned_agent: Label | UnsetType | None = UNSET
    session_id: Label | UnsetType | None = UNSET
    output: LongText | UnsetType | None = UNSET
    error: LongText | UnsetType | None = UNSET
    model: Label | UnsetType | None = UNSET
    cost_usd: CostUsd | UnsetType = UNSET
    input_tokens: Tokens | UnsetType = UNSET
    output_tokens: Tokens | UnsetType = UNSET
    cache_read_tokens: Tokens | UnsetType = UNSET
    cache_write_tokens: Tokens | UnsetType = UNSET
    cache_write_1h_tokens: Tokens | UnsetType = UNSET
    reasoning_tokens: Tokens | UnsetType = UNSET
    started_at: datetime | UnsetType = UNSET
    completed_at: datetime | UnsetType = UNSET

    def to_domain(self) -> TaskPatch:
        return TaskPatch(
            status=self.status,
            assigned_agent=self.assigned_agent,
            session_id=self.session_id,
            output=self.output,
            error=self.error,
            model=self.model,
            cost_usd=check_cost(self.cost_usd),
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            cache_read_tokens=self.cache_read_tokens,
            cache_write_tokens=self.cache_write_tokens,
            cache_write_1h_tokens=self.cache_write_1h_tokens,
            reasoning_tokens=self.reasoning_tokens,
            started_at=UNSET if self.started_at is UNSET else to_utc(self.started_at, "started_at"),
            completed_at=(
                UNSET if self.completed_at is UNSET else to_utc(self.completed_at, "completed_at")
            ),
        )


class TaskDetail(msgspec.Struct, kw_only=True):
    """A task, whole. `cost_usd` is the figure every total and analytics view sums; how it was
    obtained is `cost_source`. `reported_cost_usd` is the engine's own figure, kept beside it."""

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
    cost_usd: Annotated[
        Decimal,
        KwargDefinition(
            description="US dollars, exact: the task's cost, the figure totals and analytics sum"
        ),
    ]
    price_version: str | None
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cache_write_1h_tokens: int
    reasoning_tokens: int
    cost_source: Annotated[
        CostSource | None,
        KwargDefinition(
            description=(
                "Where cost_usd came from: `computed` from the price table (for OTLP spans, each"
                " span's tokens at the span's time), `reported` when the engine's figure is used"
                " (no price for the model, or an engine that reports only a cost)."
            )
        ),
    ]
    cost_breakdown: CostBreakdown | None
    reported_cost_usd: Annotated[
        Decimal | None,
        KwargDefinition(
            description=(
                "US dollars, exact: the cost the engine itself reported (`cost_usd` of a report,"
                " the sum of OTLP `gen_ai.usage.cost.amount` and its aliases), kept beside"
                " cost_usd; analytics never sum it. Equal to cost_usd when cost_source is"
                " `reported`; null when the engine reported none."
            )
        ),
    ]
    retry_of: str | None
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    duration_seconds: float | None
    run_seconds: float | None

    @classmethod
    def of(cls, task: Task) -> TaskDetail:
        return cls(
            task_id=task.task_id,
            status=task.status,
            agent_type=task.agent_type,
            source=task.source,
            assigned_agent=task.assigned_agent,
            session_id=task.session_id,
            conversation_id=task.conversation_id,
            input_message=task.input_message,
            output=task.output,
            error=task.error,
            model=task.model,
            cost_usd=task.cost_usd,
            price_version=task.price_version,
            input_tokens=task.input_tokens,
            output_tokens=task.output_tokens,
            cache_read_tokens=task.cache_read_tokens,
            cache_write_tokens=task.cache_write_tokens,
            cache_write_1h_tokens=task.cache_write_1h_tokens,
            reasoning_tokens=task.reasoning_tokens,
            cost_source=source_of(task),
            cost_breakdown=task.cost_breakdown,
            reported_cost_usd=task.reported_cost_usd,
            retry_of=task.retry_of,
            created_at=task.created_at,
            started_at=task.started_at,
            completed_at=task.completed_at,
            duration_seconds=task.duration_seconds,
            run_seconds=task.run_seconds,
        )


class StopAccepted(msgspec.Struct, kw_only=True):
    task_id: str
    status: TaskStatus
    stop_requested: bool = True


class AgentList(msgspec.Struct, kw_only=True):
    items: list[AgentActivity]
