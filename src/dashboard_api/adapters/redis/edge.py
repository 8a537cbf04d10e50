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


# One command, atomic: the first count of a key also sets its expiry.
_ADD = """
local count = redis.call('INCRBY', KEYS[1], ARGV[1])
if count == tonumber(ARGV[1]) then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return count
"""


class RedisRequestCounter:
    def __init__(self, client: Redis) -> None:
        # EVALSHA, loading the script again if the server lost it (a restart).
        self._add = client.register_script(_ADD)

    async def add(self, key: str, amount: int, *, ttl_seconds: int) -> int:
        return int(await self._add(keys=[key], args=[amount, ttl_seconds]))
