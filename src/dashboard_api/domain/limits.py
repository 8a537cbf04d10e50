"""The size and shape of every string the service stores, defined once.

The HTTP schemas, the engine events, the table declarations and the migrations all read these
numbers, so a value the API accepts always fits its column (on SQLite, which does not enforce
lengths, as on PostgreSQL, which does).
"""

from __future__ import annotations

import re
from typing import Annotated

from msgspec import Meta

from dashboard_api.domain.errors import InvalidInput

ID_CHARS = 128  # task, conversation, message, source, webhook, event and job ids
NAME_CHARS = 64  # agent_type, source, provider: short names used as filters and rollup keys
LABEL_CHARS = 128  # free labels: assigned_agent, session_id, model, event_type, user_id
TITLE_CHARS = 200  # conversation titles, source names, OAuth accounts
EXTERNAL_REF_CHARS = 300
ENDPOINT_CHARS = 512
STATUS_CHARS = 16  # every status enum value fits
KIND_CHARS = 32  # source kinds
PRICE_VERSION_CHARS = 64

# An id travels in URL paths (`/api/tasks/{task_id}`) and channel names (`task:{task_id}`):
# letters, digits and `. _ : @ -`, starting with a letter or digit. No `/` (it would split the
# path, `x/stop` would meet the stop route), no `%`, `?`, `#` or space (a client would have to
# escape them), and never `.` or `..` alone.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$"
_ID_RE = re.compile(ID_PATTERN)

Id = Annotated[str, Meta(min_length=1, max_length=ID_CHARS, pattern=ID_PATTERN)]
Name = Annotated[str, Meta(min_length=1, max_length=NAME_CHARS, pattern=ID_PATTERN)]
Label = Annotated[str, Meta(min_length=1, max_length=LABEL_CHARS)]


def is_id(value: str) -> bool:
    """Whether `value` is an id the service accepts (see ID_PATTERN)."""
    return 0 < len(value) <= ID_CHARS and _ID_RE.fullmatch(value) is not None


def check_id(value: str | None, field: str) -> None:
    """Refuse an id a URL path cannot carry as it is (see ID_PATTERN), naming the field."""
    if value is not None and not is_id(value):
        raise InvalidInput(
            f"{field} must be 1 to {ID_CHARS} letters, digits or . _ : @ -, "
            "starting with a letter or digit",
            field=field,
        )


def storable_text(text: str) -> str:
    """Text an engine reported, as a task keeps it: a NUL, which PostgreSQL text cannot hold
    (one would fail the whole write), becomes U+FFFD, the replacement character. For the
    engines whose formats are not ours (OTLP spans, groote-ai entries): their data is kept;
    the native path and REST refuse a NUL instead (the sender can fix it)."""
    return text.replace("\x00", "\ufffd") if "\x00" in text else text
