"""An engine's one connection to the Dashboard API, over Redis."""

from __future__ import annotations

import json
import os
import socket
import uuid
from collections.abc import Mapping
from typing import Any

import msgspec
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from dashboard_engine.protocol import (
    ENGINE_COMMANDS_CHANNEL,
    EPOCH_PREFIX,
    HISTORY_PREFIX,
    INGEST_FIELD,
    INGEST_MAX_LENGTH,
    PUBLISH_SCRIPT,
    encode_event,
    new_epoch,
    task_channel,
)
from dashboard_engine.settings import EngineSettings


class Job(msgspec.Struct, kw_only=True, frozen=True):
    """A task handed to the engine (a chat message's task): acknowledge it once handled."""

    entry_id: str
    job_id: str  # the service's id of the hand-off: the same job may come twice, never differ
    payload: dict[str, Any]


class Engine:
    """Publish live output and durable lifecycle events; take hand-offs and stop commands.

    engine = Engine.from_env()               # DASHBOARD_REDIS_URL and friends
    await engine.lifecycle("task.started", "42")
    await engine.output("42", "Reading the failing test...")
    await engine.lifecycle("task.completed", "42", cost_usd="0.0123", output_tokens=340)
    await engine.close()
    """

    def __init__(self, redis: Redis, settings: EngineSettings, *, consumer: str | None = None):
        self._redis = redis
        self.settings = settings
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}"
        self._publish = redis.register_script(PUBLISH_SCRIPT)
        self._group_ready = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Engine:
        return cls.from_settings(EngineSettings.from_env(environ))

    @classmethod
    def from_settings(cls, settings: EngineSettings) -> Engine:
        return cls(Redis.from_url(settings.redis_url), settings)

    async def output(self, task_id: str, output: str, **fields: Any) -> str:
        """A piece of a task's output, live on `task:{id}` and resumable; returns its id."""
        event = {**fields, "type": "task_output", "task_id": task_id, "output": output}
        return await self.publish(task_channel(task_id), event)

    async def status(self, task_id: str, status: str, **metrics: Any) -> str:
        """A live status note on `task:{id}` (not stored: `lifecycle` is what the API keeps)."""
        event = {**metrics, "type": "task_status", "task_id": task_id, "status": status}
        return await self.publish(task_channel(task_id), event)

    async def publish(self, channel: str, event: dict[str, Any]) -> str:
        """Any event on a channel, with its id in the channel's history."""
        settings = self.settings
        keys: list[Any] = [HISTORY_PREFIX + channel, EPOCH_PREFIX + channel]
        args: list[Any] = [
            channel,
            encode_event(event),
            settings.history_length,
            int(settings.history_ttl_seconds * 1000),
            new_epoch(),
        ]
        event_id = await self._publish(keys=keys, args=args)
        return event_id.decode() if isinstance(event_id, bytes) else str(event_id)

    async def lifecycle(
        self, event_type: str, task_id: str, *, event_id: str | None = None, **fields: Any
    ) -> str:
        """A durable lifecycle event (`task.created`, `task.started`, `task.completed`,
        `task.failed`, `task.cancelled`), applied once by the API even if it is down now.
        Give a stable `event_id` to make retries safe; returns the event id."""
        event_id = event_id or f"{task_id}:{event_type}:{uuid.uuid4().hex}"
        event = {**fields, "event_id": event_id, "type": event_type, "task_id": task_id}
        entry: dict[Any, Any] = {INGEST_FIELD: msgspec.json.encode(event)}
        await self._redis.xadd(
            self.settings.ingest_stream, entry, maxlen=INGEST_MAX_LENGTH, approximate=True
        )
        return event_id

    async def jobs(self, *, count: int = 10, block_ms: int = 5000) -> list[Job]:
        """Tasks handed to engines (a consumer group shared by every worker): new ones first,
        then none until `block_ms` passes. `ack` each once it is handled."""
        await self._ensure_group()
        queue = self.settings.engine_queue
        reply: Any = await self._redis.xreadgroup(
            self.settings.engine_group, self.consumer, {queue: ">"}, count=count, block=block_ms
        )
        return [
            _job(entry_id, fields) for _, entries in reply or [] for entry_id, fields in entries
        ]

    async def unfinished_jobs(self, *, idle_ms: int = 60_000, count: int = 10) -> list[Job]:
        """Jobs another worker took and did not acknowledge for `idle_ms` (it crashed)."""
        await self._ensure_group()
        reply: Any = await self._redis.xautoclaim(
            self.settings.engine_queue,
            self.settings.engine_group,
            self.consumer,
            idle_ms,
            "0-0",
            count=count,
        )
        return [_job(entry_id, fields) for entry_id, fields in reply[1] if fields]

    async def ack(self, job: Job) -> None:
        await self._redis.xack(self.settings.engine_queue, self.settings.engine_group, job.entry_id)

    async def stop_requests(
        self, *, after: str | None = None, limit: int = 1000
    ) -> list[dict[str, Any]]:
        """Stop commands (`POST /api/tasks/{id}/stop`) still in history after the id `after`
        (each command carries its `id`: pass the last one seen)."""
        key = HISTORY_PREFIX + ENGINE_COMMANDS_CHANNEL
        entries: Any
        if after is None:
            entries = await self._redis.xrange(key, count=limit)
        else:
            entries = await self._redis.xrange(key, min=f"({after}", count=limit)
        commands = []
        for entry_id, fields in entries or []:
            command: dict[str, Any] = json.loads(fields[b"event"])
            command["id"] = _text(entry_id)
            commands.append(command)
        return commands

    async def close(self) -> None:
        await self._redis.aclose()

    async def _ensure_group(self) -> None:
        if self._group_ready:
            return
        try:
            await self._redis.xgroup_create(
                self.settings.engine_queue, self.settings.engine_group, id="0", mkstream=True
            )
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True


def _job(entry_id: Any, fields: dict[Any, Any]) -> Job:
    payload: dict[str, Any] = json.loads(fields.get(b"payload", b"{}"))
    return Job(
        entry_id=_text(entry_id), job_id=_text(fields.get(b"entry_id", b"")), payload=payload
    )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
