"""Where an engine's work came from: the flow a conversation follows, the source of a task.

Engines that exist (groote-ai) group the tasks of one outside thread, a GitHub issue, a Jira
ticket, a Slack thread, into one conversation found by a `flow_id` such as
`github:owner/repo#12`, and keep the webhook's `source_metadata` with each task. Neither is a
field of the native model, so they live beside it, keyed by the conversation and task ids.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

MAX_FLOW_ID_CHARS = 256
MAX_METADATA_BYTES = 64 * 1024


class ConversationFlow(msgspec.Struct, kw_only=True, frozen=True):
    """The outside thread a conversation follows: one conversation per flow id."""

    flow_id: str
    conversation_id: str
    source: str | None = None
    metadata: dict[str, Any] | None = None
    created_at: datetime


class TaskOrigin(msgspec.Struct, kw_only=True, frozen=True):
    """What an engine said about where a task came from."""

    task_id: str
    flow_id: str | None = None
    source_metadata: dict[str, Any] | None = None


def merged_origin(before: TaskOrigin | None, after: TaskOrigin) -> TaskOrigin:
    """A later report fills what an earlier one left out; it never erases a known value."""
    if before is None:
        return after
    return TaskOrigin(
        task_id=after.task_id,
        flow_id=after.flow_id or before.flow_id,
        source_metadata=after.source_metadata or before.source_metadata,
    )
