"""Soak engine, run in a process of its own: live output on `--streams` task channels and
durable lifecycle events on the ingest stream, as an engine does (`EnginePublisher`).

    python -m bench.soak_engine REDIS_URL STREAMS OUTPUT_RATE TASK_RATE SECONDS
        stdout: {"ready": true}; stdin line: start; stdout: JSON results

- Output: each channel `task:soak-{k}` gets OUTPUT_RATE / STREAMS events per second, open
  loop, published one after the other within a channel (as one task's output is), carrying
  its number `n`. A publish the Redis outage refused after the client's retries is recorded
  with its number (the engine knows it was not sent); the numbers are never reused.
- Lifecycle: TASK_RATE new tasks per second, open loop, each `task.created`, `task.started`,
  `task.completed` (cost 0.01 USD) with a stable `event_id`, 0.2 s apart; every tenth task's
  `task.completed` is sent twice (the API must apply it once). A refused XADD is
  retried with the same event id until Redis takes it (a retry whose first attempt landed
  is a duplicate the API must apply once). Every event: when it was first tried, when Redis
  took it, its stream entry id, how many attempts.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from typing import Any

import msgspec

from dashboard_api.adapters.redis.bus import resilient_client
from dashboard_api.adapters.redis.ingest import RedisIngestQueue
from dashboard_api.engine import EnginePublisher

LIFECYCLE = ("task.created", "task.started", "task.completed")
COST_USD = "0.01"


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Engine:
    def __init__(self, redis_url: str) -> None:
        self.publisher = EnginePublisher.from_url(redis_url)
        # The publisher's own queue, built as `EnginePublisher.from_url` builds it, to learn
        # each event's stream entry id (which tells whether it was still unread when Redis
        # restarted empty).
        self.redis = resilient_client(redis_url)
        self.ingest = RedisIngestQueue(
            self.redis,
            stream="dashboard:ingest",
            group="-",
            dead_letter_stream="-",
            consumer="engine",
        )
        self.sent: dict[int, int] = {}  # channel -> numbers tried
        self.refused: dict[int, list[int]] = {}
        self.output_late_ms: list[float] = []
        self.events: list[dict[str, Any]] = []

    async def channel(self, k: int, rate: float, seconds: float, start: float) -> None:
        n = 0
        self.refused[k] = []
        # Channels start staggered so the offered load is smooth, not 50 publishes at once.
        offset = k / (rate * len(self.sent))
        while (intended := start + offset + n / rate) < start + seconds:
            delay = intended - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            try:
                await self.publisher.output(f"soak-{k}", str(n))
            except Exception:  # the outage outlasted the client's retries: counted
                self.refused[k].append(n)
            self.output_late_ms.append((time.time() - intended) * 1000)
            n += 1
            self.sent[k] = n

    async def send(self, event_type: str, task_id: str, **fields: Any) -> None:
        event_id = f"{task_id}:{event_type}"
        record: dict[str, Any] = {
            "event_id": event_id,
            "task_id": task_id,
            "type": event_type,
            "first_try": time.time(),
            "attempts": 0,
            "accepted": None,
            "entry_id": None,
        }
        self.events.append(record)
        deadline = time.time() + 120
        while time.time() < deadline:
            record["attempts"] += 1
            event = {"event_id": event_id, "type": event_type, "task_id": task_id, **fields}
            try:
                record["entry_id"] = await self.ingest.add(msgspec.json.encode(event))
            except Exception:  # the outage: counted in `attempts`, tried again
                await asyncio.sleep(0.5)
                continue
            record["accepted"] = time.time()
            return

    async def task(self, k: int) -> None:
        task_id = f"soak-life-{k}"
        await self.send("task.created", task_id, agent_type="soak-engine", input_message="soak")
        await asyncio.sleep(0.2)
        await self.send("task.started", task_id)
        await asyncio.sleep(0.2)
        await self.send("task.completed", task_id, cost_usd=COST_USD, output_tokens=10)
        if k % 10 == 0:
            # As an engine whose reply was lost sends again: the same event id, once more.
            await self.send("task.completed", task_id, cost_usd=COST_USD, output_tokens=10)

    async def lifecycles(self, rate: float, seconds: float, start: float) -> None:
        pending: set[asyncio.Task[None]] = set()
        k = 0
        while (intended := start + k / rate) < start + seconds:
            delay = intended - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            job = asyncio.create_task(self.task(k))
            pending.add(job)
            job.add_done_callback(pending.discard)
            k += 1
        await asyncio.gather(*pending)


async def main(
    redis_url: str, streams: int, output_rate: float, task_rate: float, seconds: float
) -> None:
    engine = Engine(redis_url)
    print(json.dumps({"ready": True}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    cpu_before, start = cpu_seconds(), time.time()
    per_channel = output_rate / streams
    engine.sent = {k: 0 for k in range(streams)}
    try:
        await asyncio.gather(
            *(engine.channel(k, per_channel, seconds, start) for k in range(streams)),
            engine.lifecycles(task_rate, seconds, start),
        )
    finally:
        await engine.publisher.close()
        await engine.redis.aclose()
    late = sorted(engine.output_late_ms) or [0.0]
    result = {
        "output_sent": [engine.sent[k] for k in range(streams)],
        "output_refused": [engine.refused.get(k, []) for k in range(streams)],
        "output_late_ms_p50": round(late[len(late) // 2], 2),
        "output_late_ms_p99": round(late[int(0.99 * (len(late) - 1))], 2),
        "output_late_ms_max": round(late[-1], 2),
        "lifecycle": engine.events,
        "cpu_seconds": round(cpu_seconds() - cpu_before, 2),
        "wall_seconds": round(time.time() - start, 2),
    }
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    arguments = sys.argv[1:]
    asyncio.run(
        main(
            arguments[0],
            int(arguments[1]),
            float(arguments[2]),
            float(arguments[3]),
            float(arguments[4]),
        )
    )
