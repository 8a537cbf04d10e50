"""Task lifecycle events an engine sends on the durable stream, and how they become changes.

{"event_id": "run-42-done", "type": "task.completed", "task_id": "42",
 "occurred_at": "2026-11-24T20:00:00Z", "output": "...", "cost_usd": "0.0123",
 "input_tokens": 1200, "output_tokens": 340}
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal, TypeVar

import msgspec
from msgspec import UNSET, Meta, UnsetType

from dashboard_api.domain.errors import InvalidInput
from dashboard_api.domain.json_input import decode_json
from dashboard_api.domain.limits import Id, Label, Name
from dashboard_api.domain.model.tasks import NewTask, TaskPatch, TaskStatus
from dashboard_api.domain.services.ingestion import (
    BatchHandler,
    BatchOutcome,
    IngestHandler,
    Verdict,
    refused,
)
from dashboard_api.domain.services.tasks import TaskService
from dashboard_api.domain.times import optional_utc

EventId = Label  # an idempotency key, never part of a path
Tokens = Annotated[int, Meta(ge=0, le=10**12)]
Text = Annotated[str, Meta(max_length=1_000_000)]

_STATUS_OF = {
    "task.started": TaskStatus.RUNNING,
    "task.completed": TaskStatus.COMPLETED,
    "task.failed": TaskStatus.FAILED,
    "task.cancelled": TaskStatus.CANCELLED,
}
MAX_COST_USD = Decimal("1000000")


class TaskLifecycleEvent(msgspec.Struct, kw_only=True, frozen=True):
    event_id: EventId
    type: Literal["task.created", "task.started", "task.completed", "task.failed", "task.cancelled"]
    task_id: Id
    occurred_at: datetime | None = None
    agent_type: Name | None = None
    input_message: Text = ""
    source: Name = "api"
    assigned_agent: Label | None = None
    session_id: Label | None = None
    conversation_id: Id | None = None
    model: Label | None = None
    output: Text | None = None
    error: Text | None = None
    cost_usd: Decimal | None = None
    input_tokens: Tokens | None = None
    output_tokens: Tokens | None = None
    cache_read_tokens: Tokens | None = None
    cache_write_tokens: Tokens | None = None
    cache_write_1h_tokens: Tokens | None = None
    reasoning_tokens: Tokens | None = None


_T = TypeVar("_T")


def _or_unset(value: _T | None) -> _T | UnsetType:
    return UNSET if value is None else value


def change_of(event: TaskLifecycleEvent) -> NewTask | tuple[str, TaskPatch]:
    """The task change an event stands for."""
    for name in ("input_message", "output", "error"):
        if "\x00" in (getattr(event, name) or ""):
            # PostgreSQL text cannot hold it: refused here rather than failing the batch.
            raise InvalidInput(f"{name} contains a NUL character", field=name)
    if event.type == "task.created":
        if event.agent_type is None:
            raise InvalidInput("task.created needs agent_type", field="agent_type")
        return NewTask(
            task_id=event.task_id,
            agent_type=event.agent_type,
            input_message=event.input_message,
            source=event.source,
            assigned_agent=event.assigned_agent,
            session_id=event.session_id,
            conversation_id=event.conversation_id,
            model=event.model,
            created_at=optional_utc(event.occurred_at, "occurred_at"),
        )
    if event.cost_usd is not None and not (0 <= event.cost_usd <= MAX_COST_USD):
        raise InvalidInput(f"cost_usd must be between 0 and {MAX_COST_USD}", field="cost_usd")
    status = _STATUS_OF[event.type]
    moment = optional_utc(event.occurred_at, "occurred_at")
    return event.task_id, TaskPatch(
        status=status,
        assigned_agent=_or_unset(event.assigned_agent),
        model=_or_unset(event.model),
        output=_or_unset(event.output),
        error=_or_unset(event.error),
        cost_usd=_or_unset(event.cost_usd),
        input_tokens=_or_unset(event.input_tokens),
        output_tokens=_or_unset(event.output_tokens),
        cache_read_tokens=_or_unset(event.cache_read_tokens),
        cache_write_tokens=_or_unset(event.cache_write_tokens),
        cache_write_1h_tokens=_or_unset(event.cache_write_1h_tokens),
        reasoning_tokens=_or_unset(event.reasoning_tokens),
        started_at=moment if status is TaskStatus.RUNNING and moment else UNSET,
        completed_at=moment if status.is_terminal and moment else UNSET,
    )


def lifecycle_batch_handler(tasks: TaskService) -> BatchHandler:
    """The batch handler for every task lifecycle type: malformed events are refused, the
    rest applied by `TaskService.apply_batch` in one transaction, in order; their
    announcements are left to the ingestor, to run after the commit."""

    async def handle(payloads: Sequence[bytes]) -> BatchOutcome:
        verdicts: list[Verdict | None] = []
        changes: list[tuple[str, NewTask | tuple[str, TaskPatch]]] = []
        for payload in payloads:
            try:
                event = _decode(payload)
                changes.append((event.event_id, change_of(event)))
            except (msgspec.DecodeError, msgspec.ValidationError, InvalidInput) as exc:
                verdicts.append(refused(str(exc)))
            else:
                verdicts.append(None)
        outcome = await tasks.apply_batch(changes) if changes else BatchOutcome([])
        applied = iter(outcome.verdicts)
        return BatchOutcome(
            [verdict or next(applied) for verdict in verdicts], outcome.after_commit
        )

    return handle


def _decode(payload: bytes) -> TaskLifecycleEvent:
    return decode_json(payload, field="event", type=TaskLifecycleEvent)


def lifecycle_handler(tasks: TaskService) -> IngestHandler:
    """The ingest handler for every task lifecycle type (register it under each)."""

    async def handle(payload: bytes) -> None:
        event = decode_json(payload, field="event", type=TaskLifecycleEvent)
        await tasks.ingest(event.event_id, change_of(event))

    return handle
