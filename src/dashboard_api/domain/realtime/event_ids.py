"""Event ids are stream ids, `<milliseconds>-<sequence>`: ordered, so "after" is well defined."""

from __future__ import annotations

import re

_EVENT_ID = re.compile(r"^[0-9]{1,20}-[0-9]{1,20}$")
_ID_PREFIX = b'{"id":"'
EventKey = tuple[int, int]


_MAX_PART = 2**64 - 1  # a Redis stream id is two unsigned 64-bit numbers


def is_event_id(text: str) -> bool:
    """`<ms>-<seq>` with both parts in range (Redis refuses larger ones)."""
    if _EVENT_ID.match(text) is None:
        return False
    millis, _, sequence = text.partition("-")
    return int(millis) <= _MAX_PART and int(sequence) <= _MAX_PART


def event_key(event_id: str) -> EventKey:
    """The sortable form of an id; the caller has checked it with `is_event_id`."""
    millis, _, sequence = event_id.partition("-")
    return int(millis), int(sequence)


def message_key(message: bytes) -> EventKey | None:
    """The id of a bus message, which leads the JSON object; None for a raw publish without one."""
    if not message.startswith(_ID_PREFIX):
        return None
    end = message.find(b'"', 7)
    if end < 0:
        return None
    millis, _, sequence = message[7:end].partition(b"-")
    if not (millis.isdigit() and sequence.isdigit()):
        return None
    return int(millis), int(sequence)


def with_id(event_id: str, event_json: bytes) -> bytes:
    """Splice the id in as the first member of an encoded JSON object."""
    if event_json == b"{}":
        return b'{"id":"' + event_id.encode() + b'"}'
    return b'{"id":"' + event_id.encode() + b'",' + event_json[1:]
