"""The wire contract between an engine and the Dashboard API, in one place for both sides.

The service imports these names too, so an engine built on this package and the service
cannot drift apart: the same channels, history keys and publish script.
"""

from __future__ import annotations

import secrets
from typing import Any

import msgspec

# Live events of one task go to this pub/sub channel (and its bounded history).
TASKS_CHANNEL = "tasks"
ENGINE_COMMANDS_CHANNEL = "engine:commands"
HISTORY_PREFIX = "dashboard:history:"
LIFECYCLE_TYPES = (
    "task.created",
    "task.started",
    "task.completed",
    "task.failed",
    "task.cancelled",
)
# The durable ingest stream's entries carry the event JSON in this field.
INGEST_FIELD = "event"
INGEST_MAX_LENGTH = 1_000_000

# A random id stored beside each history stream, with the same lifetime: when Redis loses the
# history (a restart without persistence, expiry), the epoch is created anew, so a client that
# resumes is told that continuity is broken (`recovered: false`).
EPOCH_PREFIX = "dashboard:history-epoch:"

# KEYS[1] history stream, KEYS[2] its epoch; ARGV: channel, event JSON without id, max length,
# retention in ms, an epoch to use if the channel has none. The id is spliced into the JSON
# object as its first member, so the message carries it.
PUBLISH_SCRIPT = """
local id = redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[3], '*', 'event', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
if not redis.call('SET', KEYS[2], ARGV[5], 'NX', 'PX', ARGV[4]) then
  redis.call('PEXPIRE', KEYS[2], ARGV[4])
end
local message = '{"id":"' .. id .. '",' .. string.sub(ARGV[2], 2)
redis.call('PUBLISH', ARGV[1], message)
return id
"""


def new_epoch() -> str:
    """A fresh history epoch: random, so two histories never share one."""
    return secrets.token_hex(6)


def task_channel(task_id: str) -> str:
    return f"task:{task_id}"


def encode_event(event: dict[str, Any]) -> bytes:
    """An event as the bus carries it: a non-empty JSON object (the id is added on publish)."""
    payload = msgspec.json.encode(event)
    if payload == b"{}":
        raise ValueError("an event is a non-empty JSON object (it needs at least a type)")
    return payload
