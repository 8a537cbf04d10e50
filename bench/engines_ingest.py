"""Ingestion from engines that exist, beside the native path, on the real server process.

    .venv/bin/python -m bench.engines_ingest [--tasks 200] [--batches 10] [--lag-events 300]

A private redis-server, a throwaway PostgreSQL database, one server process (uvicorn, one
worker) with the groote-ai adapter on. Scenarios:
  groote     --tasks groote-ai task stories (10 stream entries each: lifecycle, thinking,
             tool calls, outputs) XADDed at once: entries/s until our group has read and
             applied all of them, and server CPU per entry
  native     the same number of tasks through the native ingest stream (created, started,
             completed + 7 live outputs through the bus, so 10 events per task as well)
  otlp       --batches POST /v1/traces of 512 spans (protobuf; 1 agent span, 255 chat spans
             with usage and 256 tool spans per batch): spans/s and CPU per span
  lag        --lag-events groote `task:thinking` entries, one every 10 ms: XADD to the
             WebSocket frame of a client subscribed to task:{id}, p50/p99
Results: bench/results/engines-latest.json and a table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from redis.asyncio import Redis
from tests.conftest import ADMIN_URL, _admin, _with_database
from tests.e2e.conftest import free_port
from tests.groote.story import engine_entries
from websockets.asyncio.client import connect

from bench.system import group_cpu_seconds
from dashboard_engine import Engine, EngineSettings

HERE = Path(__file__).parent
STREAM = "task_events"


def start_redis(port: int) -> subprocess.Popen[bytes]:
    binary = shutil.which("redis-server") or "redis-server"
    return subprocess.Popen(
        [binary, "--port", str(port), "--save", "", "--appendonly", "no", "--bind", "127.0.0.1"],
        stdout=subprocess.DEVNULL,
    )


def start_server(port: int, database_url: str, redis_url: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DASHBOARD_DATABASE_URL": database_url,
        "DASHBOARD_REDIS_URL": redis_url,
        "DASHBOARD_GROOTE_EVENTS": STREAM,
        "DASHBOARD_LOG_LEVEL": "warning",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "dashboard_api", "run", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        start_new_session=True,  # its own process group, for group_cpu_seconds
    )


async def wait_ready(url: str) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(600):
            try:
                if (await client.get(f"{url}/ready")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise TimeoutError("server not ready")


async def wait_group_done(redis: Redis, stream: str, group: str) -> None:
    """Until the group has read every entry and acknowledged it."""
    while True:
        groups = {g["name"].decode(): g for g in await redis.xinfo_groups(stream)}
        info = groups.get(group)
        if info and info["pending"] == 0 and info.get("lag") == 0:
            return
        await asyncio.sleep(0.005)


async def groote(redis: Redis, pgid: int, tasks: int) -> dict[str, Any]:
    start_time = time.time() - 3600  # the stories happened in the past hour
    entries = []
    for n in range(tasks):
        task_id = f"task-{uuid.uuid4().hex[:12]}"
        entries += engine_entries(task_id, datetime.fromtimestamp(start_time + n, UTC))
    cpu = group_cpu_seconds(pgid)
    began = time.perf_counter()
    async with redis.pipeline(transaction=False) as pipe:
        for entry in entries:
            pipe.xadd(STREAM, entry)  # type: ignore[arg-type]
        await pipe.execute()
    await wait_group_done(redis, STREAM, "dashboard-api")
    elapsed = time.perf_counter() - began
    used = group_cpu_seconds(pgid) - cpu
    figures = _figures("groote stream entries", len(entries), elapsed, used)
    # Nothing lost: an entry the adapter refused would be counted as done above.
    return figures | {"dead_lettered": await redis.xlen("dashboard:groote:rejected")}


async def native(redis_url: str, redis: Redis, pgid: int, tasks: int) -> dict[str, Any]:
    engine = Engine.from_settings(EngineSettings(redis_url=redis_url))
    cpu = group_cpu_seconds(pgid)
    began = time.perf_counter()
    try:
        for _ in range(tasks):
            task_id = f"native-{uuid.uuid4().hex[:12]}"
            await engine.lifecycle(
                "task.created", task_id, agent_type="coder", event_id=f"{task_id}:c"
            )
            await engine.lifecycle("task.started", task_id, event_id=f"{task_id}:s")
            for piece in range(7):
                await engine.output(task_id, f"piece {piece}")
            await engine.lifecycle(
                "task.completed",
                task_id,
                event_id=f"{task_id}:d",
                cost_usd="0.0421",
                input_tokens=12000,
                output_tokens=850,
            )
        await wait_group_done(redis, "dashboard:ingest", "dashboard-api")
    finally:
        await engine.close()
    elapsed = time.perf_counter() - began
    used = group_cpu_seconds(pgid) - cpu
    figures = _figures("native events (3 durable + 7 live)", tasks * 10, elapsed, used)
    return figures | {"dead_lettered": await redis.xlen("dashboard:ingest:rejected")}


def otlp_batch(trace: str) -> bytes:
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
    from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

    def attrs(**values: Any) -> list[KeyValue]:
        out = []
        for key, value in values.items():
            any_value = (
                AnyValue(int_value=value)
                if isinstance(value, int)
                else AnyValue(string_value=value)
            )
            out.append(KeyValue(key=key.replace("__", "."), value=any_value))
        return out

    t0 = time.time_ns() - 10**9
    root = bytes.fromhex("ff00000000000000")  # no child has this id (they count from 1)
    spans = [
        Span(
            trace_id=bytes.fromhex(trace),
            span_id=root,
            name="invoke_agent",
            start_time_unix_nano=t0,
            end_time_unix_nano=t0 + 10**9,
            attributes=attrs(gen_ai__operation__name="invoke_agent", gen_ai__agent__name="bench"),
        )
    ]
    for n in range(1, 512):
        chat = n % 2 == 1
        attributes = (
            attrs(
                gen_ai__operation__name="chat",
                gen_ai__request__model="claude-sonnet-4",
                gen_ai__usage__input_tokens=1000,
                gen_ai__usage__output_tokens=50,
                gen_ai__usage__cache_read__input_tokens=600,
            )
            if chat
            else attrs(
                gen_ai__operation__name="execute_tool",
                gen_ai__tool__name="search",
                gen_ai__tool__call__result="ok",
            )
        )
        spans.append(
            Span(
                trace_id=bytes.fromhex(trace),
                span_id=n.to_bytes(8, "big"),
                parent_span_id=root,
                name="chat" if chat else "execute_tool",
                start_time_unix_nano=t0 + n,
                end_time_unix_nano=t0 + n + 1000,
                attributes=attributes,
            )
        )
    request = ExportTraceServiceRequest(
        resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=spans)])]
    )
    return request.SerializeToString()


async def otlp(url: str, pgid: int, batches: int) -> dict[str, Any]:
    bodies = [otlp_batch(uuid.uuid4().hex) for _ in range(batches)]
    cpu = group_cpu_seconds(pgid)
    began = time.perf_counter()
    rejected = 0
    async with httpx.AsyncClient(timeout=120) as client:
        for body in bodies:
            response = await client.post(
                f"{url}/v1/traces",
                content=body,
                headers={"Content-Type": "application/x-protobuf"},
            )
            response.raise_for_status()
            answer = ExportTraceServiceResponse.FromString(response.content)
            rejected += answer.partial_success.rejected_spans
    elapsed = time.perf_counter() - began
    used = group_cpu_seconds(pgid) - cpu
    figures = _figures("OTLP spans (batches of 512)", batches * 512, elapsed, used)
    return figures | {"rejected_spans": rejected}


async def lag(url: str, redis: Redis, events: int) -> dict[str, Any]:
    task_id = f"task-{uuid.uuid4().hex[:12]}"
    created = engine_entries(task_id, datetime.now(UTC))[0]
    await redis.xadd(STREAM, created)  # type: ignore[arg-type]
    sent: dict[str, float] = {}
    latencies: list[float] = []
    async with connect(url.replace("http://", "ws://") + "/ws") as socket:
        await socket.send(json.dumps({"type": "subscribe", "channel": f"task:{task_id}"}))
        await socket.recv()

        async def receive() -> None:
            while len(latencies) < events:
                frame = json.loads(await socket.recv())
                if frame.get("type") == "task_output":
                    latencies.append(time.perf_counter() - sent[frame["output"]])

        receiver = asyncio.create_task(receive())
        for n in range(events):
            marker = f"step {n} {uuid.uuid4().hex}"
            sent[marker] = time.perf_counter()
            await redis.xadd(
                STREAM,
                {  # type: ignore[arg-type]
                    "type": "task:thinking",
                    "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "task_id": task_id,
                    "data": json.dumps({"task_id": task_id, "type": "thinking", "content": marker}),
                },
            )
            await asyncio.sleep(0.01)
        await asyncio.wait_for(receiver, 30)
    ordered = sorted(latencies)
    return {
        "scenario": "XADD to WebSocket frame (groote task:thinking)",
        "events": events,
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1] * 1000, 2),
    }


def _figures(name: str, count: int, elapsed: float, cpu: float) -> dict[str, Any]:
    return {
        "scenario": name,
        "events": count,
        "seconds": round(elapsed, 2),
        "per_second": round(count / elapsed),
        "server_cpu_ms_per_event": round(cpu * 1000 / count, 3),
    }


async def main(args: argparse.Namespace) -> list[dict[str, Any]]:
    name = f"engines_bench_{uuid.uuid4().hex[:8]}"  # dropped at the end
    await _admin(f'CREATE DATABASE "{name}"')
    redis_port, port = free_port(), free_port()
    redis_process = start_redis(redis_port)
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    server = start_server(port, _with_database(ADMIN_URL, name), redis_url)
    url = f"http://127.0.0.1:{port}"
    redis = Redis.from_url(redis_url)
    try:
        await wait_ready(url)
        pgid = os.getpgid(server.pid)
        results = [
            await groote(redis, pgid, args.tasks),
            await native(redis_url, redis, pgid, args.tasks),
            await otlp(url, pgid, args.batches),
            await lag(url, redis, args.lag_events),
        ]
    finally:
        await redis.aclose()
        server.terminate()
        server.wait(30)
        redis_process.terminate()
        redis_process.wait(10)
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--lag-events", type=int, default=300)
    load_before = os.getloadavg()
    results = asyncio.run(main(parser.parse_args()))
    # The conditions beside the figures: the machine is shared, its load moves them.
    results.append(
        {
            "scenario": "conditions",
            "ended_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
            "cpu_count": os.cpu_count(),
        }
    )
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "engines-latest.json").write_text(json.dumps(results, indent=2))
    for row in results:
        print(row)
