"""The Redis client packs commands with hiredis: the bytes sent are exactly what redis-py's
own asyncio packer sends, and what it refuses is refused the same way."""

from __future__ import annotations

import random
from typing import Any

import pytest
from redis.asyncio.connection import Connection
from redis.exceptions import DataError

from dashboard_api.adapters.redis.bus import _packed_in_c

COMMANDS: list[tuple[Any, ...]] = [
    ("XACK", "dashboard:ingest", "dashboard-api", "1732990000000-0", b"1732990000000-1"),
    ("EVALSHA", "0" * 40, 2, b"dashboard:history:task:1", "dashboard:epoch:tasks", b"\x93\x00"),
    ("SET", "ключ ✓", "значение 😀", "PX", 10_000),
    ("ZADD", "k", 0.1, "a", -0.0, "b", 1e22, "c", 2.0**53 + 1, "d", float("inf"), "e"),
    ("CONFIG GET", "maxmemory"),
    ("RPUSH", "big", b"x" * 100_000, memoryview(b"view"), bytearray(b"array")),
]


def _sent(connection: Connection, args: tuple[Any, ...]) -> bytes:
    return b"".join(bytes(chunk) for chunk in connection.pack_command(*args))


def test_hiredis_packing_sends_the_same_bytes() -> None:
    stock, packed = Connection(), _packed_in_c(Connection)()
    rng = random.Random(2)
    floats = [rng.uniform(-1e6, 1e6) for _ in range(500)] + [rng.random() for _ in range(500)]
    for args in [*COMMANDS, ("ZADD", "k", *floats)]:
        assert _sent(packed, args) == _sent(stock, args)


def test_what_redis_py_refuses_is_refused() -> None:
    stock, packed = Connection(), _packed_in_c(Connection)()
    for connection in (stock, packed):
        with pytest.raises(DataError):
            connection.pack_command("SET", "k", True)
