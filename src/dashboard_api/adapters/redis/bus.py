"""EventBus on Redis: each event is appended to its channel's history stream and published.

One Lua script does both, so the id a subscriber sees live is the id it can resume from, the
live order is the history order, and no event is in history without having been published or
the reverse. The script and key names are the engine SDK's (`dashboard_engine.protocol`): an
engine built on it publishes exactly as the API does; `publish_many` runs the same steps for a
chunk of events in one script call. Live delivery goes through one supervised pub/sub
connection (`RedisEventFeed`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.connection import AbstractConnection
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.connection import HiredisRespSerializer
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.utils import HIREDIS_AVAILABLE

if HIREDIS_AVAILABLE:
    import hiredis

from dashboard_api.adapters.redis.feed import HEARTBEAT_SECONDS, RedisEventFeed
from dashboard_api.domain.model.channels import Event, Replay, StatusEvent
from dashboard_api.domain.ports import Deliver, Resubscribed
from dashboard_api.domain.realtime.event_ids import with_id
from dashboard_engine.protocol import EPOCH_PREFIX, HISTORY_PREFIX, PUBLISH_SCRIPT, new_epoch

__all__ = ["EPOCH_PREFIX", "HISTORY_PREFIX", "RedisEventBus", "encode_event", "resilient_client"]

# What the engine SDK's PUBLISH_SCRIPT does for one event, done for each of a chunk in order:
# XADD to the channel's history (trimmed to ARGV[1]), the id spliced into the message, PUBLISH;
# then, once per channel of the chunk, its history and epoch kept for ARGV[2] ms (the epoch
# ARGV[3] created if missing: one per chunk, as a channel's epoch need only differ from the
# one it had before its history was lost). As the script is atomic, the result is the SDK
# script's, event by event. KEYS: each channel's history stream and epoch key, once per
# channel; ARGV[4]: the chunk in MessagePack, [channels, payloads (JSON without id), order: a
# channel and a payload index per event, flat], each payload once however many channels it
# goes to. Returns the ids. One call per chunk instead of one per event: per change (two
# events) announcing took 53-67 us of client CPU with one call per event, 15-19 us with an
# argument list of five per event, ~6 with this (redis-py packing every argument was most of
# it), and Redis 34 us per single-event call against 7-11 us per event here (INFO
# commandstats; docs/benchmarks-realtime.md).
PUBLISH_MANY_SCRIPT = """
local maxlen, ttl, epoch = ARGV[1], ARGV[2], ARGV[3]
local plan = cmsgpack.unpack(ARGV[4])
local channels, payloads, order = plan[1], plan[2], plan[3]
local ids = {}
for i = 1, #order, 2 do
  local c, payload = order[i], payloads[order[i + 1]]
  local id = redis.call('XADD', KEYS[2 * c - 1], 'MAXLEN', maxlen, '*', 'event', payload)
  redis.call('PUBLISH', channels[c], '{"id":"' .. id .. '",' .. string.sub(payload, 2))
  ids[#ids + 1] = id
end
for c = 1, #channels do
  redis.call('PEXPIRE', KEYS[2 * c - 1], ttl)
  if not redis.call('SET', KEYS[2 * c], epoch, 'NX', 'PX', ttl) then
    redis.call('PEXPIRE', KEYS[2 * c], ttl)
  end
end
return ids
"""

# PUBLISH_MANY_SCRIPT for a chunk staged in a list (its last key), with the chunk's mark as
# its last argument: it publishes only when the list's head is that chunk (its element starts
# with the mark and a newline), and pops it in the same step, so a chunk is published once
# whoever else (a new leader's recovery) holds the same call, whatever dies when. An empty
# mark (a chunk staged by an older release, without one) pops the head unchecked. Given the
# outbox (the key before the list) and the token (the argument before the mark), the call that
# pops the last chunk also takes the token off the outbox (one round trip less per stage).
# (The publishing part reads only the key pairs of the chunk's channels.)
PUBLISH_STAGED_SCRIPT = (
    """
local staged, mark = KEYS[#KEYS], ARGV[#ARGV]
if mark ~= '' then
  local head = redis.call('LINDEX', staged, 0)
  if not head or string.sub(head, 1, #mark + 1) ~= mark .. '\\n' then
    return {}
  end
end
redis.call('LPOP', staged)
if #ARGV > 5 and redis.call('LLEN', staged) == 0 then
  redis.call('LREM', KEYS[#KEYS - 1], 0, ARGV[#ARGV - 1])
end
"""
    + PUBLISH_MANY_SCRIPT
)
# A staged element: b"<mark>\n" and the chunk's (keys, args) as MessagePack.
_MARKED = b"\n"

# Events per PUBLISH_MANY_SCRIPT call: bounds how long one call holds Redis (a few ms).
PUBLISH_CHUNK = 250

# KEYS[1] history stream, KEYS[2] its epoch; ARGV: after ('' for the latest entries), the
# epoch the caller knows ('' for none), limit, an epoch to create if missing, retention in ms.
# Returns {epoch, complete (0/1), entries}. Complete when the entry `after` is still held (the
# stream is trimmed oldest first, so nothing after it was lost); `after` "0-0" (nothing seen
# yet) is complete while nothing was ever trimmed (Redis 7's entries-added equals the length).
# Any other id not held was trimmed, or belongs to a history since lost: not complete.
REPLAY_SCRIPT = """
local epoch = redis.call('GET', KEYS[2])
local exists = redis.call('EXISTS', KEYS[1]) == 1
if not epoch then
  epoch = ARGV[4]
  local ttl = tonumber(ARGV[5])
  if exists then
    local left = redis.call('PTTL', KEYS[1])
    if left > 0 then ttl = left end
  end
  redis.call('SET', KEYS[2], epoch, 'PX', ttl)
end
local limit = tonumber(ARGV[3])
local after = ARGV[1]
if after == '' then
  return {epoch, 1, redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', limit)}
end
local complete = 1
if ARGV[2] ~= '' and ARGV[2] ~= epoch then
  complete = 0
  after = '0-0'
end
local entries = redis.call('XRANGE', KEYS[1], '(' .. after, '+', 'COUNT', limit + 1)
if #entries > limit then
  complete = 0
  entries[#entries] = nil
end
if complete == 1 and exists and #redis.call('XRANGE', KEYS[1], after, after) == 0 then
  if after ~= '0-0' then
    complete = 0
  else
    local info = redis.call('XINFO', 'STREAM', KEYS[1])
    local length, added = -1, -2
    for i = 1, #info, 2 do
      if info[i] == 'length' then length = info[i + 1] end
      if info[i] == 'entries-added' then added = info[i + 1] end
    end
    if length ~= added then complete = 0 end
  end
elseif complete == 1 and not exists and after ~= '0-0' then
  complete = 0
end
return {epoch, complete, entries}
"""


def resilient_client(url: str, *, timeout: float = 5.0, blocking_seconds: float = 0.0) -> Redis:
    """A client whose commands survive a Redis restart: a pooled connection that died with the
    old server is replaced and the command retried, instead of failing the caller once.

    `timeout` bounds connecting, each reply and the wait for a pooled connection, so a lost
    network fails a command (a 503) instead of hanging it; `blocking_seconds` is added to the
    reply timeout of a client whose commands block on purpose (XREADGROUP BLOCK)."""
    # A blocking pool makes a burst of callers wait for a connection; the default pool raises
    # "Too many connections" instead, which would fail requests under load.
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=64,
        timeout=timeout,
        socket_connect_timeout=timeout,
        socket_timeout=timeout + blocking_seconds,
        retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), retries=5),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
    )
    pool.connection_class = _packed_in_c(pool.connection_class)
    return Redis.from_pool(pool)  # the client owns the pool: closing it closes the pool


def _packed_in_c(connection_class: type[AbstractConnection]) -> type[AbstractConnection]:
    """`connection_class` packing commands with hiredis (C), as redis-py's synchronous client
    does when hiredis is installed; its asyncio connection packs every argument in Python, a
    large part of announcing an ingest batch (a publish script call passes two keys per
    channel, ~500 per chunk) and of acknowledging it (one id per entry). The bytes sent are
    the same (floats included; tests/unit/test_redis_packing.py)."""
    if not HIREDIS_AVAILABLE:
        return connection_class
    packed = _PACKED_IN_C.get(connection_class)
    if packed is None:
        name = connection_class.__name__
        packed = _PACKED_IN_C[connection_class] = type(
            name, (_HiredisPacking, connection_class), {}
        )
    return packed


_PACKED_IN_C: dict[type[AbstractConnection], type[AbstractConnection]] = {}


class _HiredisPacking:
    _serializer = HiredisRespSerializer()

    def pack_command(self, *args: Any) -> list[bytes]:
        # Straight to hiredis when the command is one word: redis-py's serializer first
        # converts every argument in a Python generator (~3 per ingested event, the publish
        # keys and the XACK ids). What hiredis refuses (a bytearray or memoryview, which the
        # serializer converts; a bool or None, which it refuses as a DataError) and a command
        # of two words (`CONFIG GET`, split) go through the serializer as before.
        command = args[0]
        if type(command) is str and " " not in command:
            try:
                return [hiredis.pack_command(args)]
            except TypeError:
                pass
        packed: list[bytes] = self._serializer.pack(*args)
        return packed


def encode_event(event: Event) -> bytes:
    if isinstance(event, StatusEvent):  # never empty
        return _encode_status(event)
    payload = msgspec.json.encode(event if type(event) is dict else dict(event))
    if payload == b"{}":
        raise ValueError("an event is a non-empty JSON object (it needs at least a type)")
    return payload


_encode_status = msgspec.json.Encoder().encode


class RedisEventBus:
    def __init__(
        self,
        redis: Redis,
        *,
        url: str | None = None,
        history_length: int = 1000,
        history_ttl_seconds: float = 86_400,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
        publish_chunk: int = PUBLISH_CHUNK,
    ) -> None:
        self._redis = redis
        self._url = url
        self._history_length = history_length
        self._ttl_ms = int(history_ttl_seconds * 1000)
        self._heartbeat_seconds = heartbeat_seconds
        self._publish_chunk = publish_chunk
        self._publish = redis.register_script(PUBLISH_SCRIPT)
        self._publish_many = redis.register_script(PUBLISH_MANY_SCRIPT)
        self._publish_staged = redis.register_script(PUBLISH_STAGED_SCRIPT)
        # Chunks this process staged, kept to publish without reading them back.
        self._staged: dict[tuple[str, str], list[tuple[str, tuple[list[Any], list[Any]]]]] = {}
        self._replay = redis.register_script(REPLAY_SCRIPT)
        self._feeds: list[RedisEventFeed] = []

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        history_length: int = 1000,
        history_ttl_seconds: float = 86_400,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
        timeout: float = 5.0,
    ) -> RedisEventBus:
        return cls(
            resilient_client(url, timeout=timeout),
            url=url,
            history_length=history_length,
            history_ttl_seconds=history_ttl_seconds,
            heartbeat_seconds=heartbeat_seconds,
        )

    async def publish(self, channel: str, event: Event) -> str:
        keys, args = self._publish_call(channel, event)
        return _text(await self._publish(keys=keys, args=args))

    async def publish_many(self, events: Sequence[tuple[str, Event]]) -> list[str]:
        """One PUBLISH_MANY_SCRIPT call per chunk of `publish_chunk` events, chunks one after
        the other: each event published whole, in the given order, so each channel's order is
        kept. Not a transaction: a failure part way leaves the earlier ones published. An event
        object given for several channels (a change on `task:{id}` and `tasks`) is encoded and
        sent once per chunk."""
        ids: list[str] = []
        for keys, args in self._chunk_calls(events):
            ids += map(_text, await self._publish_many(keys=keys, args=args))
        return ids

    def _chunk_calls(
        self, events: Sequence[tuple[str, Event]]
    ) -> list[tuple[list[Any], list[Any]]]:
        """The keys and arguments of each PUBLISH_MANY_SCRIPT call that publishes `events`: the
        keys once per channel, and one MessagePack argument holding the chunk's channels, each
        event's JSON once, and a channel and payload place per publish."""
        calls: list[tuple[list[Any], list[Any]]] = []
        for start in range(0, len(events), self._publish_chunk):
            channels: dict[str, int] = {}  # channel -> its place in KEYS (from 1)
            payloads: list[str] = []  # as text: Redis's cmsgpack takes no binary type
            slots: dict[int, int] = {}  # id(event) -> its payload's place; `events` holds them
            order: list[int] = []
            for channel, event in events[start : start + self._publish_chunk]:
                place = channels.get(channel)
                if place is None:
                    place = channels[channel] = len(channels) + 1
                slot = slots.get(id(event))
                if slot is None:
                    payloads.append(encode_event(event).decode())
                    slot = slots[id(event)] = len(payloads)
                order += (place, slot)
            keys: list[Any] = [
                key
                for channel in channels
                for key in (HISTORY_PREFIX + channel, EPOCH_PREFIX + channel)
            ]
            plan = msgspec.msgpack.encode((list(channels), payloads, order))
            calls.append((keys, [self._history_length, self._ttl_ms, new_epoch(), plan]))
        return calls

    async def stage(
        self, outbox: str, token: str, events: Sequence[tuple[str, Event]]
    ) -> list[str]:
        """Each chunk's script call, encoded, in the list `{outbox}:{token}`, and `token` in
        the list `outbox`, in one transaction, replacing what `token` held. Kept in this
        process too, to publish without reading them back; read back only by a process that
        finds them left over."""
        calls = self._chunk_calls(events)
        if not calls:
            return await self.staged(outbox)
        nonce = new_epoch()  # this stage's marks differ from any earlier stage's
        marked = [(f"{nonce}.{n}", call) for n, call in enumerate(calls)]
        async with self._redis.pipeline(transaction=True) as pipe:
            # What the token held (a stage of the same batch that did not commit) is replaced.
            pipe.delete(f"{outbox}:{token}")
            pipe.rpush(
                f"{outbox}:{token}",
                *(mark.encode() + _MARKED + msgspec.msgpack.encode(call) for mark, call in marked),
            )
            pipe.lrem(outbox, 0, token)
            pipe.lrange(outbox, 0, -1)
            pipe.rpush(outbox, token)
            *_, before, _ = await pipe.execute()
        self._staged[(outbox, token)] = marked
        return [_text(held) for held in before]

    async def staged(self, outbox: str) -> list[str]:
        return [_text(token) for token in await self._redis.lrange(outbox, 0, -1)]

    async def publish_staged(self, outbox: str, token: str) -> None:
        chunks = f"{outbox}:{token}"
        marked = self._staged.pop((outbox, token), None)
        if marked is None:
            raws: list[Any] = await self._redis.lrange(chunks, 0, -1)
            marked = [_staged_chunk(raw) for raw in raws]
        if not marked:
            await self._redis.lrem(outbox, 0, token)
        for n, (mark, (keys, args)) in enumerate(marked, 1):
            # Each call pops its chunk (after a failure: left); the last one, the token too.
            last = n == len(marked)
            await self._publish_staged(
                keys=[*keys, outbox, chunks] if last else [*keys, chunks],
                args=[*args, token, mark] if last else [*args, mark],
            )

    async def drop_staged(self, outbox: str, token: str) -> None:
        self._staged.pop((outbox, token), None)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(f"{outbox}:{token}")
            pipe.lrem(outbox, 0, token)
            await pipe.execute()

    def _publish_call(self, channel: str, event: Event) -> tuple[list[Any], list[Any]]:
        keys: list[Any] = [HISTORY_PREFIX + channel, EPOCH_PREFIX + channel]
        payload = encode_event(event)
        args: list[Any] = [channel, payload, self._history_length, self._ttl_ms, new_epoch()]
        return keys, args

    async def replay(
        self, channel: str, *, after: str | None, epoch: str | None, limit: int
    ) -> Replay:
        keys: list[Any] = [HISTORY_PREFIX + channel, EPOCH_PREFIX + channel]
        args: list[Any] = [after or "", epoch or "", limit, new_epoch(), self._ttl_ms]
        current, complete, entries = await self._replay(keys=keys, args=args)
        messages = [
            with_id(_text(entry_id), dict(_pairs(fields))[b"event"]) for entry_id, fields in entries
        ]
        if after is None:
            messages.reverse()
        return Replay(_text(current), messages, bool(complete))

    async def history(self, channel: str, *, after: str | None, limit: int) -> list[bytes]:
        key = HISTORY_PREFIX + channel
        entries: Any
        if after is None:
            entries = list(reversed(await self._redis.xrevrange(key, count=limit) or []))
        else:
            entries = await self._redis.xrange(key, min=f"({after}", count=limit) or []
        return [with_id(_text(entry_id), fields[b"event"]) for entry_id, fields in entries]

    async def open_feed(self, deliver: Deliver, resubscribed: Resubscribed) -> RedisEventFeed:
        if self._url is None:
            raise RuntimeError("live delivery needs the bus to be built with from_url")
        feed = RedisEventFeed(
            self._url, deliver, resubscribed, heartbeat_seconds=self._heartbeat_seconds
        )
        feed.start()
        self._feeds.append(feed)
        return feed

    async def ping(self) -> None:
        await self._redis.ping()

    async def close(self) -> None:
        for feed in self._feeds:
            await feed.close()
        self._feeds.clear()
        await self._redis.aclose(close_connection_pool=True)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _pairs(flat: list[Any]) -> list[tuple[Any, Any]]:
    """A stream entry's fields as a script returns them: a flat list of names and values."""
    return list(zip(flat[::2], flat[1::2], strict=True))


def _staged_chunk(raw: bytes) -> tuple[str, tuple[list[Any], list[Any]]]:
    """A staged element read back: its mark and its call (no mark: staged by a release that
    wrote the call alone, a MessagePack array, which never starts with an ASCII mark)."""
    mark, found, body = raw.partition(_MARKED)
    if not found or not mark.isascii() or raw[:1] == b"\x92":
        mark, body = b"", raw
    return mark.decode(), msgspec.msgpack.decode(body, type=tuple[list[Any], list[Any]])
