"""Identifier generation: UUIDv7 text, time-ordered so new rows append to indexes."""

from __future__ import annotations

import os
import time
import uuid


def uuid7() -> str:
    """A RFC 9562 version 7 UUID as text: 48 bits of Unix milliseconds, then randomness."""
    unix_ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (unix_ms & 0xFFFF_FFFF_FFFF) << 80
    value |= 0x7 << 76  # version
    value |= ((rand >> 68) & 0xFFF) << 64  # rand_a, 12 bits
    value |= 0b10 << 62  # variant
    value |= rand & 0x3FFF_FFFF_FFFF_FFFF  # rand_b, 62 bits
    return str(uuid.UUID(int=value))
