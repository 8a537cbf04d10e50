"""Fixtures written from the groote-ai engine's formats (its agent-engine and api-gateway):
stream entries exactly as they XADD them, for one webhook-triggered task, in their order."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

STREAM_TIME = "%Y-%m-%dT%H:%M:%SZ"  # the engine's one-second timestamps
FINAL_OUTPUT = "Fixed the login bug: the session cookie is now refreshed. PR: #13"


def task_entry(event_type: str, task_id: str, data: dict[str, Any], at: datetime) -> dict[str, str]:
    """One entry as the engine's publish_task_event writes it."""
    return {
        "type": event_type,
        "timestamp": at.strftime(STREAM_TIME),
        "task_id": task_id,
        "data": json.dumps(data),
    }


def webhook_entry(
    event_type: str, webhook_event_id: str, data: dict[str, Any], at: datetime
) -> dict[str, str]:
    """One entry as the gateway's EventPublisher writes it (ISO time with microseconds)."""
    return {
        "type": event_type,
        "webhook_event_id": webhook_event_id,
        "timestamp": at.astimezone(UTC).isoformat(),
        "data": json.dumps(data),
    }


def gateway_entries(webhook_event_id: str, task_id: str, start: datetime) -> list[dict[str, str]]:
    """A GitHub issue comment received, validated, matched and turned into a task in 180 ms."""
    return [
        webhook_entry(
            "webhook:received",
            webhook_event_id,
            {"source": "github", "event_type": "issue_comment", "payload_size": 5123},
            start,
        ),
        webhook_entry(
            "webhook:validated",
            webhook_event_id,
            {"signature_valid": True},
            start + timedelta(milliseconds=20),
        ),
        webhook_entry(
            "webhook:matched",
            webhook_event_id,
            {"source": "github", "event_type": "issue_comment", "matched_handler": "issue_comment"},
            start + timedelta(milliseconds=60),
        ),
        webhook_entry(
            "webhook:task_created",
            webhook_event_id,
            {
                "task_id": task_id,
                "source": "github",
                "event_type": "issue_comment",
                "input_message": "@agent fix the login bug",
            },
            start + timedelta(milliseconds=180),
        ),
    ]


def engine_entries(
    task_id: str, start: datetime, *, conversation_id: str | None = None
) -> list[dict[str, str]]:
    """The worker's stream entries for one task that completes, in its order."""
    session = "sess-1"
    flow = "github:acme/shop#12"

    def at(seconds: int) -> datetime:
        return start + timedelta(seconds=seconds)

    return [
        task_entry(
            "task:created",
            task_id,
            {
                "task_id": task_id,
                "session_id": session,
                "input_message": "@agent fix the login bug",
                "source": "github",
                "assigned_agent": "brain",
            },
            at(0),
        ),
        task_entry(
            "task:started",
            task_id,
            {"task_id": task_id, "session_id": session, "conversation_id": None},
            at(0),
        ),
        task_entry(
            "task:context_built",
            task_id,
            {
                "task_id": task_id,
                "enriched_prompt": "Context: ... @agent fix the login bug",
                "flow_id": flow,
                "conversation_id": conversation_id,
                "source_metadata": {"source": "github", "event_type": "issue_comment"},
            },
            at(1),
        ),
        task_entry(
            "task:thinking",
            task_id,
            {"task_id": task_id, "type": "thinking", "content": "The cookie expires early."},
            at(2),
        ),
        task_entry(
            "task:tool_call",
            task_id,
            {
                "task_id": task_id,
                "name": "Read",
                "input": {"file_path": "auth/session.py"},
                "_tool_use_id": "toolu_01",
            },
            at(3),
        ),
        task_entry(
            "task:tool_result",
            task_id,
            {
                "task_id": task_id,
                "name": "Read",
                "content": "def refresh(): ...",
                "is_error": False,
            },
            at(3),
        ),
        task_entry(
            "task:raw_output",
            task_id,
            {"task_id": task_id, "raw_output": "[raw] " + FINAL_OUTPUT},
            at(9),
        ),
        task_entry("task:output", task_id, {"task_id": task_id, "content": FINAL_OUTPUT}, at(9)),
        task_entry(
            "task:completed",
            task_id,
            {
                "task_id": task_id,
                "session_id": session,
                "conversation_id": conversation_id,
                "status": "completed",
                "result": FINAL_OUTPUT,
                "duration_seconds": 9.31,
                "cost_usd": 0.0421,
                "input_tokens": 12000,
                "output_tokens": 850,
            },
            at(9),
        ),
        task_entry(
            "task:response_posted",
            task_id,
            {
                "task_id": task_id,
                "method": "mcp",
                "source": "github",
                "mcp_detected": True,
                "fallback_posted": False,
            },
            at(10),
        ),
    ]
