"""Every channel name and the wire form of every event and job: the services, the hub, the
engine publisher and the demo take them from here. The engine SDK (packages/engine, its own
distribution) spells the names engines share in `dashboard_engine.protocol`; a test holds the
two equal."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, NamedTuple

import msgspec

from dashboard_api.domain.model.conversations import Message
from dashboard_api.domain.model.sources import DataSource, SyncJob
from dashboard_api.domain.model.tasks import INPUT_PREVIEW_CHARS, Task, TaskStatus
from dashboard_api.domain.model.webhooks import WebhookEvent

TASKS_CHANNEL = "tasks"
WEBHOOKS_CHANNEL = "webhooks"
ALERTS_CHANNEL = "alerts"
ENGINE_COMMANDS_CHANNEL = "engine:commands"  # stop requests, read by the engine
# Channels a client may subscribe to: these by name, and `task:{id}` / `conversation:{id}`.
CLIENT_CHANNELS = frozenset({TASKS_CHANNEL, WEBHOOKS_CHANNEL, ALERTS_CHANNEL})
SCOPED_KINDS = frozenset({"task", "conversation"})
# The ingest stream's event types: an engine's task lifecycle, and a webhook event an engine or
# gateway reports.
LIFECYCLE_TYPES = (
    "task.created",
    "task.started",
    "task.completed",
    "task.failed",
    "task.cancelled",
)
WEBHOOK_EVENT_TYPE = "webhook_event"


def task_channel(task_id: str) -> str:
    return f"task:{task_id}"


def conversation_channel(conversation_id: str) -> str:
    return f"conversation:{conversation_id}"


def wire_time(moment: datetime | None) -> str | None:
    """A moment as every event carries it: ISO 8601 in UTC with a `Z`.

    msgspec writes exactly what `isoformat()` with `+00:00` as `Z` writes (any offset, with or
    without microseconds; tests/unit hold them equal) in a fifth of the time: three per
    announced change were ~3 us of an ingested event's CPU."""
    return None if moment is None else _encode_json(moment)[1:-1].decode()


_encode_json = msgspec.json.Encoder().encode


class StatusEvent(msgspec.Struct, kw_only=True, frozen=True, gc=False):
    """`status_event`'s JSON without its dict: the fields in its key order, the moments as
    datetimes (msgspec writes them as `wire_time` does, which is msgspec's own encoding) and
    the status as the enum (written as its value). What an ingest batch announces: building
    the dict and three `wire_time` strings cost more than the encoding itself
    (docs/benchmarks-realtime.md). A unit test holds the bytes equal to `status_event`'s."""

    type: str = "task_status"
    task_id: str
    status: TaskStatus
    agent_type: str
    source: str
    assigned_agent: str | None
    session_id: str | None
    conversation_id: str | None
    input_preview: str
    model: str | None
    cost_usd: float
    input_tokens: int
    output_tokens: int
    error: str | None
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    version: int


# What a bus publishes: a JSON object, as a mapping or as a `StatusEvent`.
Event = Mapping[str, Any] | StatusEvent


class Replay(NamedTuple):
    """What history still holds of a channel after a position, and whether that is all."""

    epoch: str  # the channel's history epoch: it changes when history is lost
    messages: list[bytes]  # oldest first, each `{"id":"<id>",...}`
    # Every event published after the position is in `messages`: none was trimmed, the history
    # was not lost (the epoch asked for is the current one), none is beyond the limit.
    complete: bool


def status_event(task: Task) -> dict[str, object]:
    """The normalized `task_status` event the API publishes after it persists a change. It
    carries every field of a list row (`TaskSummary`), so a filtered live list needs no
    re-fetch, plus the error and the version."""
    return {
        "type": "task_status",
        "task_id": task.task_id,
        "status": task.status.value,
        "agent_type": task.agent_type,
        "source": task.source,
        "assigned_agent": task.assigned_agent,
        "session_id": task.session_id,
        "conversation_id": task.conversation_id,
        "input_preview": task.input_message[:INPUT_PREVIEW_CHARS],
        "model": task.model,
        "cost_usd": float(task.cost_usd),
        "input_tokens": task.input_tokens,
        "output_tokens": task.output_tokens,
        "error": task.error,
        "created_at": wire_time(task.created_at),
        "started_at": wire_time(task.started_at),
        "completed_at": wire_time(task.completed_at),
        "version": task.version,
    }


def status_frame(task: Task) -> StatusEvent:
    """`status_event(task)` as a `StatusEvent`: the same JSON, byte for byte."""
    return StatusEvent(
        task_id=task.task_id,
        status=task.status,
        agent_type=task.agent_type,
        source=task.source,
        assigned_agent=task.assigned_agent,
        session_id=task.session_id,
        conversation_id=task.conversation_id,
        input_preview=task.input_message[:INPUT_PREVIEW_CHARS],
        model=task.model,
        cost_usd=float(task.cost_usd),
        input_tokens=task.input_tokens,
        output_tokens=task.output_tokens,
        error=task.error,
        created_at=task.created_at,
        started_at=task.started_at,
        completed_at=task.completed_at,
        version=task.version,
    )


def message_event(message: Message) -> dict[str, object]:
    return {
        "type": "message",
        "conversation_id": message.conversation_id,
        "message_id": message.message_id,
        "role": message.role.value,
        "content": message.content,
        "task_id": message.task_id,
        "created_at": wire_time(message.created_at),
    }


def engine_job(task: Task, message: Message) -> dict[str, object]:
    """What the engine reads from its queue to run a task a user message created."""
    return {
        "type": "task_queued",
        "task_id": task.task_id,
        "agent_type": task.agent_type,
        "conversation_id": message.conversation_id,
        "message_id": message.message_id,
        "input_message": task.input_message,
        "created_at": wire_time(task.created_at),
    }


def event_notice(event: WebhookEvent) -> dict[str, object]:
    """What the `webhooks` channel carries: the event without its payload."""
    return {
        "type": "webhook_event",
        "event_id": event.event_id,
        "webhook_id": event.webhook_id,
        "provider": event.provider,
        "event_type": event.event_type,
        "status": event.status.value,
        "http_status": event.http_status,
        "latency_ms": event.latency_ms,
        "task_id": event.task_id,
        "created_at": wire_time(event.created_at),
    }


def indexing_job(source: DataSource, job: SyncJob) -> dict[str, object]:
    return {
        "type": "sync_requested",
        "job_id": job.job_id,
        "source_id": source.source_id,
        "kind": source.kind.value,
        "external_ref": source.external_ref,
        "requested_at": wire_time(job.requested_at),
    }
