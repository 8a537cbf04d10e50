"""Retention on every adapter: old rows trimmed or deleted in batches, analytics unchanged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from dashboard_api.domain.model.conversations import (
    Conversation,
    Message,
    MessageQuery,
    MessageRole,
)
from dashboard_api.domain.model.retention import DataKind
from dashboard_api.domain.model.tasks import NewTask, Task, TaskPatch, TaskQuery, TaskStatus
from dashboard_api.domain.model.webhooks import WebhookEvent, WebhookEventQuery, WebhookStatus
from dashboard_api.domain.services.analytics import AnalyticsService
from dashboard_api.domain.services.retention import RetentionJob
from dashboard_api.domain.services.tasks import TaskService
from tests.contract.conftest import Backend
from tests.unit.fakes import RecordingBus

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
OLD = NOW - timedelta(days=40)
AGES = dict.fromkeys(DataKind, timedelta(days=30))


async def _seed(backend: Backend) -> TaskService:
    service = TaskService(
        unit_of_work=backend.unit_of_work,
        reads=backend.reads,
        bus=RecordingBus(),
        clock=lambda: NOW,
    )
    for i in range(7):
        for created in (OLD + timedelta(minutes=7 * i), NOW - timedelta(hours=i + 1)):
            task = await service.register(
                NewTask(
                    agent_type=("coder", "planner")[i % 2],
                    input_message=f"do {i}",
                    created_at=created,
                )
            )
            status = (TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.RUNNING)[i % 3]
            patch = TaskPatch(
                status=status, cost_usd=Decimal(i + 1).scaleb(-3), input_tokens=10 * i
            )
            await service.update(task.task_id, patch)
    async with backend.unit_of_work() as uow:
        conversation = Conversation(
            conversation_id="c-1",
            title="t",
            agent_type="coder",
            user_id="u",
            created_at=OLD,
            updated_at=OLD,
        )
        await uow.conversations.add(conversation)
        for i, created in enumerate((OLD, OLD, NOW)):
            message = Message(
                message_id=f"m-{i}",
                conversation_id="c-1",
                role=MessageRole.USER,
                content="hi",
                created_at=created,
            )
            await uow.messages.add(message)
        for i, created in enumerate((OLD, OLD + timedelta(hours=1), NOW)):
            event = WebhookEvent(
                event_id=f"e-{i}",
                webhook_id="gh",
                provider="github",
                event_type="push",
                status=WebhookStatus.PROCESSED,
                created_at=created,
                payload={"n": i},
            )
            await uow.webhook_events.add(event)
        await uow.commit()
    await backend.compact()
    return service


async def _figures(backend: Backend) -> list[object]:
    analytics = AnalyticsService(
        rollups=backend.rollups, tasks=backend.reads, clock=lambda: NOW, cache_entries=0
    )
    day = datetime(2026, 10, 11, tzinfo=UTC)
    return [
        await analytics.summary(None, None),
        await analytics.summary(day, day + timedelta(days=1), "coder"),
        await analytics.cost_histogram(day, day + timedelta(days=2), "hour"),
        await analytics.performance(OLD - timedelta(days=1), NOW),
    ]


async def test_pruning_keeps_every_analytics_figure(backend: Backend) -> None:
    assert backend.retention is not None
    service = await _seed(backend)
    before = await _figures(backend)
    job = RetentionJob(
        backend.retention, {DataKind.TASK_TEXT: timedelta(days=30)}, batch=2, clock=lambda: NOW
    )
    assert (await job.run_once())[DataKind.TASK_TEXT] == 5  # 7 old tasks, 2 still running
    old = [t for t in await _all_tasks(service) if t.created_at < NOW - timedelta(days=30)]
    assert {(t.input_message == "", t.status.is_terminal) for t in old} == {
        (True, True),
        (False, False),
    }
    assert await job.run_once() == {DataKind.TASK_TEXT: 0}

    whole = RetentionJob(backend.retention, AGES, batch=2, clock=lambda: NOW)
    pruned = await whole.run_once()
    assert pruned == {
        DataKind.TASK_TEXT: 0,
        DataKind.TASKS: 5,
        DataKind.MESSAGES: 2,
        DataKind.WEBHOOK_PAYLOADS: 2,
        DataKind.WEBHOOK_EVENTS: 2,
    }
    assert await _figures(backend) == before
    remaining = await _all_tasks(service)
    assert len(remaining) == 9  # 7 recent, 2 old ones still running
    messages = await backend.messages.find(MessageQuery(conversation_id="c-1", limit=10))
    assert [m.message_id for m in messages] == ["m-2"]
    events = await backend.webhook_events.find(WebhookEventQuery(limit=10))
    assert [e.event_id for e in events] == ["e-2"]
    kept = await backend.webhook_events.get("e-2")
    assert kept is not None
    assert kept.payload == {"n": 2}


async def _all_tasks(service: TaskService) -> list[Task]:
    page = await service.list_tasks(TaskQuery(limit=200))
    return [await service.get(summary.task_id) for summary in page.items]
