"""Tickets and request counters in Redis, shared by every replica of the service."""

from __future__ import annotations

from redis.asyncio import Redis


class RedisTicketStore:
    def __init__(self, client: Redis, *, prefix: str = "dashboard:ws-ticket:") -> None:
        self._client = client
        self._prefix = prefix

    async def issue(self, ticket: str, holder: str, ttl_seconds: int) -> None:
        # NX: a ticket is random (256 bits); never overwrite one that exists.
        await self._client.set(self._prefix + ticket, holder, ex=ttl_seconds, nx=True)

    async def redeem(self, ticket: str) -> str | None:
        # GETDEL is atomic: of two replicas redeeming one ticket at once, one gets it.
        holder = await self._client.getdel(self._prefix + ticket)
        return holder.decode() if isinstance(holder, bytes) else holder


class RedisRequestCounter:
    def __init__(self, client: Redis) -> None:
        self._client = client

    async def increment(self, key: str, ttl_seconds: int) -> int:
        # One round trip. The key is a client's budget in one window: pushing its expiry back
        # on each count keeps it at most `ttl_seconds` past the window (EXPIRE NX would need
        # Redis 7; GETDEL above needs 6.2).
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.incr(key)
            pipe.expire(key, ttl_seconds)
            count, _ = await pipe.execute()
        return int(count)
