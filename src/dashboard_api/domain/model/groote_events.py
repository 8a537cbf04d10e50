"""The groote-ai engine's event stream, as its source writes it, read into plain values.

Each entry of its `task_events` stream has the fields `type`, `timestamp`, `data` (a JSON
string) and `task_id` (task events) or `webhook_event_id` (its gateway's webhook events). The
stream adapter hands each entry over as one JSON object: its fields, its stream entry id,
and the event id derived from its content (`event_id_of`): a redelivered entry, or the same
entry appended twice, is the same event.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import msgspec

from dashboard_api.domain.errors import InvalidInput
from dashboard_api.domain.json_input import decode_json
from dashboard_api.domain.limits import check_id, storable_text

# Types that stream a task's live output: (kind on the wire, field of `data` with the text).
OUTPUT_TYPES: dict[str, tuple[str, str]] = {
    "task:thinking": ("thinking", "content"),
    "task:tool_call": ("tool_call", "input"),
    "task:tool_result": ("tool_result", "content"),
    "task:raw_output": ("raw_output", "raw_output"),
    "task:output": ("output", "content"),
}
LIFECYCLE_TYPES = ("task:created", "task:started", "task:completed", "task:failed")
ORIGIN_TYPES = ("task:context_built",)
WEBHOOK_TYPES = ("webhook:received", "webhook:validated", "webhook:task_created", "webhook:skipped")
# Read and acknowledged without effect: nothing of ours stands for them.
IGNORED_TYPES = ("task:response_posted", "webhook:matched")
HANDLED_TYPES = (
    *LIFECYCLE_TYPES,
    *OUTPUT_TYPES,
    *ORIGIN_TYPES,
    *WEBHOOK_TYPES,
    *IGNORED_TYPES,
)
MAX_OUTPUT_CHARS = 1_000_000


def event_id_of(fields: dict[str, str]) -> str:
    """The id of the event an entry carries, from what the engine wrote: a redelivered entry
    and the same event appended again (a retried XADD) are one event. Two byte-identical
    events of one task in the same second are one too; the engine's events differ in content
    or time (a tool call carries its tool-use id)."""
    digest = hashlib.blake2b(digest_size=16)
    for name in ("type", "timestamp", "task_id", "webhook_event_id", "data"):
        digest.update(fields.get(name, "").encode())
        digest.update(b"\0")
    return f"groote:{digest.hexdigest()}"


class GrooteEntry(msgspec.Struct, kw_only=True, frozen=True):
    """One stream entry with its `event_id` (`event_id_of`) and stream `entry_id`."""

    type: str
    event_id: str
    entry_id: str | None = None
    timestamp: str | None = None
    task_id: str | None = None
    webhook_event_id: str | None = None
    data: str = "{}"

    def fields(self) -> dict[str, Any]:
        """The decoded `data` object (InvalidInput when it is not one)."""
        value = decode_json(self.data, field="data")
        if not isinstance(value, dict):
            raise InvalidInput("data is not a JSON object", field="data")
        return value

    def moment(self) -> datetime | None:
        """When it happened: `%Y-%m-%dT%H:%M:%SZ` from the engine, ISO with microseconds from
        the gateway; None when absent or unreadable (the receiving time is used instead)."""
        if not self.timestamp:
            return None
        try:
            moment = datetime.fromisoformat(self.timestamp.replace("Z", "+00:00"))
        except ValueError:
            return None
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)

    def subject(self, fields: dict[str, Any]) -> str:
        """The task the event is about (entry field first, then `data.task_id`)."""
        task_id = self.task_id or fields.get("task_id")
        if not isinstance(task_id, str):
            raise InvalidInput("a task event needs a task_id", field="task_id")
        check_id(task_id, "task_id")
        return task_id


def output_event(entry: GrooteEntry, task_id: str, fields: dict[str, Any]) -> dict[str, Any]:
    """The `task_output` event a streamed piece of output becomes; `kind` says which piece."""
    kind, text_field = OUTPUT_TYPES[entry.type]
    value = fields.get(text_field, "")
    text = value if isinstance(value, str) else msgspec.json.encode(value).decode()
    event: dict[str, Any] = {
        "type": "task_output",
        "task_id": task_id,
        "output": text[:MAX_OUTPUT_CHARS],
        "kind": kind,
    }
    if kind in ("tool_call", "tool_result"):
        event["tool_name"] = _text(fields.get("name"))
    if kind == "tool_call":
        event["tool_use_id"] = _text(fields.get("_tool_use_id"))
    if kind == "tool_result":
        event["is_error"] = bool(fields.get("is_error", False))
    if kind == "thinking" and isinstance(fields.get("type"), str):
        event["thinking_type"] = fields["type"]
    return event


def text_field(fields: dict[str, Any], name: str, *, limit: int = MAX_OUTPUT_CHARS) -> str | None:
    """A text field of `data`, None when absent or empty; other JSON values as JSON text."""
    value = fields.get(name)
    if value is None or value == "":
        return None
    text = value if isinstance(value, str) else msgspec.json.encode(value).decode()
    return storable_text(text[:limit])


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None
