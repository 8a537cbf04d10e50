"""Work queues as Redis Streams: the engine (or indexer) reads them with a consumer group."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from redis.asyncio import Redis


class RedisStreamWorkQueue:
    """XADD per entry; fields `entry_id` (deduplication key for the worker) and `payload` (JSON).
    The stream is capped (approximately) at `max_length` entries."""

    def __init__(self, redis: Redis, *, max_length: int = 100_000) -> None:
        self._redis = redis
        self._max_length = max_length

    @classmethod
    def from_url(
        cls, url: str, *, max_length: int = 100_000, timeout: float = 5.0
    ) -> RedisStreamWorkQueue:
        from dashboard_api.adapters.redis.bus import resilient_client

        return cls(resilient_client(url, timeout=timeout), max_length=max_length)

    async def push(self, queue: str, entry_id: str, payload: Mapping[str, Any]) -> None:
        fields: dict[Any, Any] = {
            "entry_id": entry_id,
            "payload": json.dumps(dict(payload), separators=(",", ":")),
        }
        await self._redis.xadd(queue, fields, maxlen=self._max_length, approximate=True)

    async def close(self) -> None:
        await self._redis.aclose()
