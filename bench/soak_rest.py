"""Soak REST load, run in a process of its own so that it cannot queue behind the engine or the
WebSocket clients: open loop at a fixed rate, a bounded number of requests in flight, every
latency measured from the time the request was *meant* to be sent (no coordinated omission).

    python -m bench.soak_rest BASE_URL RATE SECONDS [MAX_IN_FLIGHT]
        stdout: {"ready": true}; stdin line: start; stdout: JSON results

Request mix, in turn: a task list page (`GET /api/tasks?limit=50`), a registration
(`POST /api/tasks`, then `PATCH` to `running` when it answered 201, that PATCH counted apart),
another list page, the analytics summary. A request that finds every slot taken waits for
one; its latency still counts from its intended time, so a stalled server shows as latency
(and the wait is recorded as `queued_ms`), never as fewer requests.

Per request: intended send time (epoch seconds), kind, status code (or the exception's name),
latency from the intended time, the wait for a slot. Plus the process's own CPU time and how
late its scheduler fired (the harness is not the bottleneck if both stay small).
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from typing import Any

import httpx

KINDS = ("list", "create", "list", "summary")


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Rest:
    def __init__(self, base: str, max_in_flight: int) -> None:
        limits = httpx.Limits(
            max_connections=max_in_flight, max_keepalive_connections=max_in_flight
        )
        self.http = httpx.AsyncClient(base_url=base, timeout=30, limits=limits)
        self.slots = asyncio.Semaphore(max_in_flight)
        self.records: list[list[Any]] = []  # [intended, kind, code, latency_ms, queued_ms]
        self.late_ms: list[float] = []
        self.stalls: list[list[float]] = []

    def note(self, intended: float, kind: str, code: str, queued: float) -> None:
        latency = (time.time() - intended) * 1000
        self.records.append([round(intended, 3), kind, code, round(latency, 2), round(queued, 2)])

    async def one(self, intended: float, kind: str) -> None:
        try:
            queued = (time.time() - intended) * 1000
            try:
                if kind == "create":
                    response = await self.http.post("/api/tasks", json={"agent_type": "soak-rest"})
                elif kind == "summary":
                    response = await self.http.get("/api/analytics/summary")
                else:
                    response = await self.http.get("/api/tasks", params={"limit": 50})
                code = str(response.status_code)
            except httpx.HTTPError as exc:
                response, code = None, type(exc).__name__
            self.note(intended, kind, code, queued)
            if kind == "create" and response is not None and response.status_code == 201:
                task_id = response.json()["task_id"]
                patch_intended = time.time()
                try:
                    answer = await self.http.patch(
                        f"/api/tasks/{task_id}", json={"status": "running"}
                    )
                    patch_code = str(answer.status_code)
                except httpx.HTTPError as exc:
                    patch_code = type(exc).__name__
                self.note(patch_intended, "patch", patch_code, 0.0)
        finally:
            self.slots.release()

    async def run(self, rate: float, seconds: float) -> None:
        pending: set[asyncio.Task[None]] = set()
        start = time.time()
        n = 0
        while (intended := start + n / rate) < start + seconds:
            delay = intended - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            late = max(0.0, (time.time() - intended) * 1000)
            self.late_ms.append(late)
            if late > 50:  # this process was not scheduled in time (the machine is shared)
                self.stalls.append([round(intended, 3), round(late, 1)])
            await self.slots.acquire()  # bounded in flight; the wait counts in the latency
            task = asyncio.create_task(self.one(intended, KINDS[n % len(KINDS)]))
            pending.add(task)
            task.add_done_callback(pending.discard)
            n += 1
        await asyncio.gather(*pending)
        await self.http.aclose()


async def main(base: str, rate: float, seconds: float, max_in_flight: int) -> None:
    rest = Rest(base, max_in_flight)
    # The client's first request sets up what it needs lazily (~0.5 s in a 1-minute trial,
    # which stalled the first requests' schedule): done here, before the clock starts.
    await rest.http.get("/health")
    print(json.dumps({"ready": True}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    cpu_before, wall_before = cpu_seconds(), time.time()
    await rest.run(rate, seconds)
    late = sorted(rest.late_ms) or [0.0]
    result = {
        "records": rest.records,
        "cpu_seconds": round(cpu_seconds() - cpu_before, 2),
        "wall_seconds": round(time.time() - wall_before, 2),
        "scheduler_late_ms_p99": round(late[int(0.99 * (len(late) - 1))], 2),
        "scheduler_late_ms_max": round(late[-1], 2),
        "scheduler_stalls_over_50ms": rest.stalls,
        "max_in_flight": max_in_flight,
    }
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    arguments = sys.argv[1:]
    asyncio.run(
        main(
            arguments[0],
            float(arguments[1]),
            float(arguments[2]),
            int(arguments[3]) if len(arguments) > 3 else 64,
        )
    )
