"""The publisher an agent engine imports: live output, status and durable lifecycle events.

An engine in a process of its own uses the engine SDK, re-exported here:
`from dashboard_api.engine import Engine` (or `from dashboard_engine import Engine` with only
the small `dashboard-engine` distribution installed; see packages/engine/README.md).

    pass

    engine = EnginePublisher.from_url("redis://127.0.0.1:6379/0")
    await engine.lifecycle("task.created", "42", agent_type="coder", input_message="Fix #12")
    await engine.lifecycle("task.started", "42")
    for token in tokens:
        await engine.output("42", token)          # live on task:42, resumable by id
    await engine.lifecycle("task.completed", "42", cost_usd="0.0123", output_tokens=340)
    await engine.close()

Live events (`output`, `status`) go to the channel `task:{id}` with an id in that channel's
bounded history, so a client that reconnects with `since` misses nothing. Lifecycle events go
to the durable ingest stream: the API persists each exactly once (by `event_id`), even if it
was down when they were sent, then publishes its normalized `task_status` on `tasks` and
`task:{id}`. Stop requests (`POST /api/tasks/{id}/stop`) arrive on `engine:commands`.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import msgspec

from dashboard_api.domain.model.channels import ENGINE_COMMANDS_CHANNEL, task_channel
from dashboard_api.domain.ports import EventBus, IngestQueue
from dashboard_engine import Engine, EngineSettings, Job

# The engine SDK (packages/engine, distribution `dashboard-engine`) is what an engine in its
# own process uses; EnginePublisher stays for engines running inside the service (the demo)
# on any EventBus and IngestQueue.
__all__ = ["Engine", "EnginePublisher", "EngineSettings", "Job"]


class EnginePublisher:
    def __init__(self, bus: EventBus, ingest: IngestQueue) -> None:
        self._bus = bus
        self._ingest = ingest
        self._closers: list[Any] = []

    @classmethod
    def from_url(
        cls,
        redis_url: str,
        *,
        history_length: int = 1000,
        history_ttl_seconds: float = 86_400,
        ingest_stream: str = "dashboard:ingest",
    ) -> EnginePublisher:
        """A publisher on the Redis the API uses (same history and stream settings)."""
        from dashboard_api.adapters.redis.bus import RedisEventBus, resilient_client
        from dashboard_api.adapters.redis.ingest import RedisIngestQueue

        bus = RedisEventBus.from_url(
            redis_url, history_length=history_length, history_ttl_seconds=history_ttl_seconds
        )
        redis = resilient_client(redis_url)
        ingest = RedisIngestQueue(
            redis, stream=ingest_stream, group="-", dead_letter_stream="-", consumer="engine"
        )
        publisher = cls(bus, ingest)
        publisher._closers = [bus.close, redis.aclose]
        return publisher

    async def output(self, task_id: str, output: str) -> str:
        """Stream a piece of a task's output; returns its event id."""
        event = {"type": "task_output", "task_id": task_id, "output": output}
        return await self._bus.publish(task_channel(task_id), event)

    async def status(self, task_id: str, status: str, **metrics: Any) -> str:
        """A live status note on `task:{id}` (not persisted: use `lifecycle` for that)."""
        event = {"type": "task_status", "task_id": task_id, "status": status, **metrics}
        return await self._bus.publish(task_channel(task_id), event)

    async def lifecycle(
        self, event_type: str, task_id: str, *, event_id: str | None = None, **fields: Any
    ) -> str:
        """Send a durable lifecycle event (`task.created`, `task.started`, `task.completed`,
        `task.failed`, `task.cancelled`). Give a stable `event_id` to make retries safe;
        returns the event id."""
        event_id = event_id or f"{task_id}:{event_type}:{uuid.uuid4().hex}"
        event = {"event_id": event_id, "type": event_type, "task_id": task_id, **fields}
        await self._ingest.add(msgspec.json.encode(event))
        return event_id

    async def stop_requests(self, *, after: str | None = None) -> AsyncIterator[dict[str, Any]]:
        """Stop commands still in history after `after` (all retained ones when None)."""
        for message in await self._bus.history(ENGINE_COMMANDS_CHANNEL, after=after, limit=1000):
            command: dict[str, Any] = msgspec.json.decode(message)
            yield command

    async def close(self) -> None:
        for close in self._closers:
            await close()
