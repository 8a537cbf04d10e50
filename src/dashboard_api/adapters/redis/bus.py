"""EventBus on Redis: each event is appended to its channel's history stream and published.

One Lua script does both, so the id a subscriber sees live is the id it can resume from,
and no event is in history without having been published or the reverse.
"""

from __future__ import annotations

import json
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis

from dashboard_api.domain.ports import Event

HISTORY_PREFIX = "dashboard:history:"

# KEYS[1] history stream, ARGV[1] channel, ARGV[2] event JSON without id, ARGV[3] max length.
# The id is spliced into the JSON object so the published message carries it.
_PUBLISH = """
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', 'event', ARGV[2])
local message = '{"id":"' .. id .. '",' .. string.sub(ARGV[2], 2)
redis.call('PUBLISH', ARGV[1], message)
return id
"""


class RedisEventBus:
    def __init__(self, redis: Redis, *, history_length: int = 1000) -> None:
        self._redis = redis
        self._history_length = history_length
        self._publish = redis.register_script(_PUBLISH)

    @classmethod
    def from_url(
        cls, url: str, *, history_length: int = 1000, max_connections: int = 64
    ) -> RedisEventBus:
        # A blocking pool makes a burst of publishers wait for a connection; the default pool
        # raises "Too many connections" instead, which would fail requests under load.
        pool = BlockingConnectionPool.from_url(url, max_connections=max_connections, timeout=10)
        return cls(Redis(connection_pool=pool), history_length=history_length)

    async def publish(self, channel: str, event: Event) -> str:
        payload = json.dumps(dict(event), separators=(",", ":"))
        if payload == "{}":
            payload = '{"type":"empty"}'
        keys: list[Any] = [HISTORY_PREFIX + channel]
        args: list[Any] = [channel, payload, self._history_length]
        event_id = await self._publish(keys=keys, args=args)
        return event_id.decode() if isinstance(event_id, bytes) else str(event_id)

    async def ping(self) -> None:
        await self._redis.ping()

    async def close(self) -> None:
        await self._redis.aclose(close_connection_pool=True)
