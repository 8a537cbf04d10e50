"""Opaque cursors for keyset pagination, one codec for every list."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Generic, TypeVar

import msgspec

from dashboard_api.domain.errors import InvalidInput, MalformedInput
from dashboard_api.domain.json_input import decode_json
from dashboard_api.domain.limits import LABEL_CHARS
from dashboard_api.domain.times import to_utc

T = TypeVar("T")
K = TypeVar("K", bound=msgspec.Struct)

MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50


class Page(msgspec.Struct, Generic[T], frozen=True):
    items: list[T]
    next_cursor: str | None

    @classmethod
    def from_rows(
        cls, rows: Sequence[T], limit: int, position: Callable[[T], msgspec.Struct]
    ) -> Page[T]:
        """The page of `rows` read with `limit + 1` (the extra row says whether another page
        follows): at most `limit` items, and a cursor at the last one's `position` if so."""
        if len(rows) <= limit:
            return cls(items=list(rows), next_cursor=None)
        return cls(items=list(rows[:limit]), next_cursor=encode_cursor(position(rows[limit - 1])))


def encode_cursor(position: msgspec.Struct) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode(position)).rstrip(b"=").decode()


def decode_cursor(cursor: str, kind: type[K]) -> K:
    """Decode a cursor made by `encode_cursor` for `kind`, checked completely: exactly its
    fields, of their types, every time zoned and in range, every text a key we could have
    written. Anything else is the client's error (a 400 naming `cursor`), never met later by
    a comparison or the database."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError) as exc:
        raise _refused() from exc
    try:
        values = decode_json(raw, field="cursor", type=list[Any])
        if len(values) != len(kind.__struct_fields__):
            raise _refused()
        position = msgspec.convert(values, kind)
    except (InvalidInput, msgspec.ValidationError) as exc:
        raise _refused() from exc
    return kind(*(_key_value(value) for value in msgspec.structs.astuple(position)))


def _key_value(value: object) -> object:
    if isinstance(value, datetime):
        # Cursors are written in UTC with `Z`: a zoneless time is not ours, and one outside
        # the accepted range could not be compared with or bound as a stored time.
        if value.utcoffset() is None:
            raise _refused()
        try:
            return to_utc(value, "cursor")
        except InvalidInput as exc:
            raise _refused() from exc
    if isinstance(value, str) and (len(value) > LABEL_CHARS or "\x00" in value):
        raise _refused()
    return value


def _refused() -> MalformedInput:
    return MalformedInput("cursor is not one this API issued", field="cursor")
