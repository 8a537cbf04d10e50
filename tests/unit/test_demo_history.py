"""The demo's 30 days of history: every chart and table of the console has data at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dashboard_api.adapters.demo.history import backfill_history
from dashboard_api.bootstrap.adapters import memory_adapters
from dashboard_api.domain.model.analytics_answers import Granularity, HistogramGroup
from dashboard_api.domain.model.conversations import ConversationQuery, MessageQuery
from dashboard_api.domain.model.webhooks import WebhookEventQuery
from dashboard_api.domain.services.analytics import AnalyticsService
from dashboard_api.domain.services.tasks import TaskService

NOW = datetime(2026, 11, 30, 10, 30, tzinfo=UTC)


async def test_thirty_days_of_history_fill_every_chart_and_table_once() -> None:
    adapters = memory_adapters()
    tasks = TaskService(
        unit_of_work=adapters.unit_of_work,
        reads=adapters.task_reads,
        bus=adapters.bus,
        clock=lambda: NOW,
    )
    analytics = AnalyticsService(
        rollups=adapters.rollup_reads, tasks=adapters.task_reads, clock=lambda: NOW
    )

    async def backfill() -> int:
        return await backfill_history(
            unit_of_work=adapters.unit_of_work,
            tasks=tasks,
            oauth=adapters.oauth,
            now=NOW,
        )

    written = await backfill()
    assert written > 1000
    assert await backfill() == 0, "a second start writes nothing"

    start = (NOW - timedelta(days=29)).replace(hour=0, minute=0, second=0, microsecond=0)
    by_agent = await analytics.cost_histogram(
        start, NOW, Granularity.DAY, HistogramGroup.AGENT_TYPE
    )
    assert all(bucket.tasks > 0 and bucket.cost_usd > 0 for bucket in by_agent.buckets)
    assert sum(bucket.errors for bucket in by_agent.buckets) > 0
    agents = {name for bucket in by_agent.buckets for name in (bucket.groups or {})}
    assert len(agents) >= 5
    by_model = await analytics.cost_histogram(start, NOW, Granularity.DAY, HistogramGroup.MODEL)
    assert len({name for bucket in by_model.buckets for name in (bucket.groups or {})}) >= 4

    summary = await analytics.summary(None, None)
    assert summary.total_tasks == written
    assert 0.8 < (summary.finished_success_rate or 0) < 0.99
    assert summary.today_tasks > 0
    performance = await analytics.performance(start, NOW)
    assert all(item.duration_p95_seconds for item in performance.items)

    conversations = await adapters.conversations.find(ConversationQuery(limit=50))
    assert len(conversations) == 6
    for conversation in conversations:
        messages = await adapters.messages.find(
            MessageQuery(conversation_id=conversation.conversation_id, limit=50)
        )
        assert conversation.totals.messages == len(messages) >= 4
        assert conversation.totals.tasks == len(messages) // 2
        assert {message.role.value for message in messages} == {"user", "assistant"}

    events = await adapters.webhook_events.find(WebhookEventQuery(limit=500))
    assert {event.webhook_id for event in events} >= {"github-main", "jira-cloud"}
    assert any(event.status.value == "failed" for event in events)
    assert len(await adapters.sources.find(limit=10, after=None)) == 3
    assert sum(i.connected for i in await adapters.oauth.all()) == 3
