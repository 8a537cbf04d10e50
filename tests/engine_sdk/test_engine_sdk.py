"""The engine SDK (packages/engine) against the service's own Redis adapters on the real
Redis: what it publishes, sends and reads is what the service reads, sends and publishes."""

from __future__ import annotations

import ast
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest
from redis.asyncio import Redis

from dashboard_api.adapters.memory import MemoryDatabase, MemoryTaskStore, MemoryUnitOfWork
from dashboard_api.adapters.redis.bus import RedisEventBus
from dashboard_api.adapters.redis.ingest import RedisIngestQueue
from dashboard_api.adapters.redis.work_queue import RedisStreamWorkQueue
from dashboard_api.domain.model.channels import LIFECYCLE_TYPES
from dashboard_api.domain.model.tasks import NewTask, TaskStatus
from dashboard_api.domain.services.ingestion import Ingestor
from dashboard_api.domain.services.task_events import lifecycle_handler
from dashboard_api.domain.services.tasks import TaskService
from dashboard_engine import Engine, EngineSettings
from tests.conftest import REDIS_URL, unavailable
from tests.redis_support import unique

pytestmark = pytest.mark.integration

SDK = Path(__file__).parents[2] / "packages" / "engine" / "src" / "dashboard_engine"
ALLOWED_ROOTS = {"redis", "msgspec", "dashboard_engine", "__future__"}


def test_the_sdk_imports_only_redis_msgspec_and_the_standard_library() -> None:
    for path in SDK.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                root = name.split(".")[0]
                assert root in ALLOWED_ROOTS or root in sys.stdlib_module_names, (path, name)
    assert (SDK / "py.typed").exists()


def test_settings_come_from_the_services_variables() -> None:
    settings = EngineSettings.from_env(
        {
            "DASHBOARD_REDIS_URL": "redis://cache:6379/2",
            "DASHBOARD_HISTORY_LENGTH": "50",
            "DASHBOARD_INGEST_STREAM": "ingest:x",
            "DASHBOARD_ENGINE_QUEUE": "jobs:x",
        }
    )
    assert (settings.redis_url, settings.history_length) == ("redis://cache:6379/2", 50)
    assert (settings.ingest_stream, settings.engine_queue) == ("ingest:x", "jobs:x")
    with pytest.raises(ValueError, match="history_length"):
        EngineSettings.from_env({"DASHBOARD_HISTORY_LENGTH": "many"})


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except OSError as exc:
        unavailable(f"Redis unreachable at {REDIS_URL}: {exc}")
    yield client
    await client.aclose()


@pytest.fixture
async def engine(redis: Redis) -> AsyncIterator[Engine]:
    settings = EngineSettings(
        redis_url=REDIS_URL,
        ingest_stream=unique("test:sdk:ingest:"),
        engine_queue=unique("test:sdk:jobs:"),
    )
    sdk = Engine.from_settings(settings)
    yield sdk
    await redis.delete(settings.ingest_stream, settings.engine_queue)
    await sdk.close()


async def test_output_is_in_the_history_the_service_replays(engine: Engine) -> None:
    bus = RedisEventBus.from_url(REDIS_URL)
    task_id = unique("sdk-task-")
    try:
        first = await engine.output(task_id, "Reading the test", kind="thinking")
        second = await engine.status(task_id, "running")
        history = [
            msgspec.json.decode(m)
            for m in await bus.history(f"task:{task_id}", after=None, limit=10)
        ]
    finally:
        await bus.close()
    assert [event["id"] for event in history] == [first, second]
    assert history[0] == {
        "id": first,
        "kind": "thinking",
        "type": "task_output",
        "task_id": task_id,
        "output": "Reading the test",
    }


async def test_lifecycle_events_are_applied_once_by_the_services_ingestor(
    engine: Engine, redis: Redis
) -> None:
    db = MemoryDatabase()
    bus = RedisEventBus.from_url(REDIS_URL)
    tasks = TaskService(
        unit_of_work=lambda: MemoryUnitOfWork(db), reads=MemoryTaskStore(db), bus=bus
    )
    queue = RedisIngestQueue(
        redis,
        stream=engine.settings.ingest_stream,
        group="dashboard-api",
        dead_letter_stream=engine.settings.ingest_stream + ":dead",
    )
    ingestor = Ingestor(queue, block_ms=50)
    for event_type in LIFECYCLE_TYPES:
        ingestor.register(event_type, lifecycle_handler(tasks))
    await engine.lifecycle("task.created", "sdk-1", agent_type="coder", event_id="sdk-1:c")
    await engine.lifecycle("task.completed", "sdk-1", cost_usd="0.0123", event_id="sdk-1:d")
    await engine.lifecycle("task.completed", "sdk-1", cost_usd="0.0123", event_id="sdk-1:d")
    try:
        await ingestor.process(await queue.read(limit=10, block_ms=50))
    finally:
        await bus.close()
    task = await tasks.get("sdk-1")
    assert task.status is TaskStatus.COMPLETED
    assert str(task.cost_usd) == "0.012300"
    assert ingestor.applied == 3
    assert ingestor.rejected == 0
    await redis.delete(engine.settings.ingest_stream + ":dead")


async def test_jobs_handed_off_by_the_service_are_taken_once_and_taken_back(
    engine: Engine,
) -> None:
    service_side = RedisStreamWorkQueue.from_url(REDIS_URL)
    try:
        await service_side.push(engine.settings.engine_queue, "task-1", {"task_id": "task-1"})
    finally:
        await service_side.close()
    [job] = await engine.jobs(block_ms=100)
    assert (job.job_id, job.payload) == ("task-1", {"task_id": "task-1"})
    assert await engine.jobs(block_ms=50) == []
    crashed_worker_successor = Engine.from_settings(engine.settings)
    try:
        [again] = await crashed_worker_successor.unfinished_jobs(idle_ms=0)
        assert again == job
        await crashed_worker_successor.ack(again)
        assert await crashed_worker_successor.unfinished_jobs(idle_ms=0) == []
    finally:
        await crashed_worker_successor.close()


async def test_stop_requests_of_the_service_reach_the_engine(engine: Engine) -> None:
    db = MemoryDatabase()
    bus = RedisEventBus.from_url(REDIS_URL)
    tasks = TaskService(
        unit_of_work=lambda: MemoryUnitOfWork(db), reads=MemoryTaskStore(db), bus=bus
    )
    try:
        before = await engine.stop_requests()
        last = before[-1]["id"] if before else None
        task_id = unique("sdk-stop-")
        await tasks.register(
            NewTask(task_id=task_id, agent_type="coder", status=TaskStatus.RUNNING)
        )
        await tasks.request_stop(task_id)
        commands = await engine.stop_requests(after=last)
    finally:
        await bus.close()
    assert [(c["type"], c["task_id"]) for c in commands] == [("stop_requested", task_id)]


def test_the_sdk_and_the_service_name_the_same_channels_and_events() -> None:
    """Two distributions, one wire contract: what engines use equals what the service uses."""
    from dashboard_api.domain.model import channels
    from dashboard_engine import protocol

    assert protocol.TASKS_CHANNEL == channels.TASKS_CHANNEL
    assert protocol.ENGINE_COMMANDS_CHANNEL == channels.ENGINE_COMMANDS_CHANNEL
    assert protocol.task_channel("t-1") == channels.task_channel("t-1")
    assert protocol.LIFECYCLE_TYPES == channels.LIFECYCLE_TYPES
