"""Opaque cursors for keyset pagination, one codec for every list."""

from __future__ import annotations

import base64
import binascii
from typing import Generic, TypeVar

import msgspec

from dashboard_api.domain.errors import InvalidInput

T = TypeVar("T")
K = TypeVar("K")

MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50


class Page(msgspec.Struct, Generic[T], frozen=True):
    items: list[T]
    next_cursor: str | None


def encode_cursor(position: msgspec.Struct) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode(position)).rstrip(b"=").decode()


def decode_cursor(cursor: str, kind: type[K]) -> K:
    """Decode a cursor made by `encode_cursor`; anything else is the client's error."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return msgspec.json.decode(raw, type=kind)
    except (binascii.Error, ValueError, msgspec.DecodeError) as exc:
        raise InvalidInput("cursor is not one this API issued", field="cursor") from exc
