"""The services: every use case of the domain, built once from the adapters and the settings.

Building them starts nothing; bootstrap/workers.py runs the loops some of them have."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from dashboard_api.adapters.files.alerts_file import AlertsConfig, load_alerts_file
from dashboard_api.adapters.http_sender import HttpAlertSender
from dashboard_api.adapters.memory.alerts import MemoryAlertStore
from dashboard_api.adapters.unavailable import is_unstorable_value
from dashboard_api.bootstrap.adapters import Adapters
from dashboard_api.domain.clock import Clock, utc_now
from dashboard_api.domain.errors import NotFound
from dashboard_api.domain.model.access import Access, parse_networks, parse_tokens
from dashboard_api.domain.model.channels import LIFECYCLE_TYPES, WEBHOOK_EVENT_TYPE, status_event
from dashboard_api.domain.model.groote_events import HANDLED_TYPES
from dashboard_api.domain.model.pricing import PriceTable
from dashboard_api.domain.model.retention import DataKind
from dashboard_api.domain.ports import TicketStore
from dashboard_api.domain.realtime.hub import Hub
from dashboard_api.domain.services.alerts import AlertService
from dashboard_api.domain.services.analytics import AnalyticsService
from dashboard_api.domain.services.announcing import Announcer
from dashboard_api.domain.services.conversations import ConversationService
from dashboard_api.domain.services.groote import GrooteBridge
from dashboard_api.domain.services.groote_conversations import FlowConversations
from dashboard_api.domain.services.handoff import HandoffRelay
from dashboard_api.domain.services.ingestion import Ingestor
from dashboard_api.domain.services.otel import OtelIngest
from dashboard_api.domain.services.rate_limits import Budget, RateLimiter
from dashboard_api.domain.services.retention import RetentionJob
from dashboard_api.domain.services.sources import OAuthStatusService, SourceService
from dashboard_api.domain.services.spend import SpendService
from dashboard_api.domain.services.task_actions import TaskActions
from dashboard_api.domain.services.task_events import lifecycle_batch_handler
from dashboard_api.domain.services.tasks import TaskService
from dashboard_api.domain.services.webhooks import WebhookService, webhook_ingest_handler
from dashboard_api.price_file import load_prices
from dashboard_api.settings import Settings


@dataclass(eq=False)  # identity: one per running app
class Services:
    """What the HTTP layer, the workers and an embedder use; one object, one place."""

    settings: Settings
    adapters: Adapters
    clock: Clock
    access: Access
    tasks: TaskService
    analytics: AnalyticsService
    conversations: ConversationService
    webhooks: WebhookService
    sources: SourceService
    oauth: OAuthStatusService
    relay: HandoffRelay
    task_actions: TaskActions
    spend: SpendService
    alerts: AlertService
    alert_sender: HttpAlertSender  # closed when the workers stop
    hub: Hub
    # Engines' lifecycle events (and webhook events) from the ingest queue.
    ingestor: Ingestor
    groote: GrooteBridge
    flows: FlowConversations
    # The groote-ai engine's stream, when DASHBOARD_GROOTE_EVENTS turns its adapter on.
    groote_ingestor: Ingestor | None
    otel: OtelIngest
    # None: no retention age is configured.
    retention: RetentionJob | None
    limiter: RateLimiter | None  # None: no budget is limited
    tickets: TicketStore
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    _started_monotonic: float = field(default_factory=time.monotonic)

    def uptime_seconds(self) -> float:
        return time.monotonic() - self._started_monotonic


def build_services(
    adapters: Adapters,
    settings: Settings,
    *,
    clock: Clock = utc_now,
    prices: PriceTable | None = None,
    alerts: AlertsConfig | None = None,
) -> Services:
    """Every service over `adapters`. `prices` and `alerts` default to the settings' files."""
    if prices is None:
        prices = load_prices(settings.prices_file)
    alerts = alerts if alerts is not None else alerts_config(settings)
    announcer = Announcer(
        unit_of_work=adapters.unit_of_work,
        bus=adapters.bus,
        clock=clock,
        outbox=f"{settings.ingest_stream}:announcing-api",
    )
    tasks = TaskService(
        unit_of_work=adapters.unit_of_work,
        reads=adapters.task_reads,
        bus=adapters.bus,
        clock=clock,
        configured_agents=settings.agents,
        prices=prices,
        outbox=f"{settings.ingest_stream}:announcing",
        announcer=announcer,
    )
    analytics = AnalyticsService(
        rollups=adapters.rollup_reads,
        tasks=adapters.task_reads,
        clock=clock,
        cache_entries=settings.analytics_cache_entries,
    )
    relay = HandoffRelay(unit_of_work=adapters.unit_of_work, work_queue=adapters.work_queue)
    conversations = ConversationService(
        unit_of_work=adapters.unit_of_work,
        conversations=adapters.conversations,
        messages=adapters.messages,
        tasks=tasks,
        announcer=announcer,
        relay=relay,
        engine_queue=settings.engine_queue,
        clock=clock,
    )
    webhooks = WebhookService(
        unit_of_work=adapters.unit_of_work,
        events=adapters.webhook_events,
        rollups=adapters.webhook_rollups,
        configs=adapters.webhook_configs,
        bus=adapters.bus,
        clock=clock,
    )
    sender = HttpAlertSender()
    groote = GrooteBridge(
        tasks=tasks,
        webhooks=webhooks,
        origins=adapters.origins,
        bus=adapters.bus,
        unit_of_work=adapters.unit_of_work,
        clock=clock,
        default_agent=settings.groote_agent_type,
        wait_seconds=settings.groote_wait_seconds,
    )
    return Services(
        settings=settings,
        adapters=adapters,
        clock=clock,
        access=Access(
            parse_tokens(settings.api_tokens),
            # groote-ai's six calls without a token from these (http/auth.py); only with the
            # adapter on, whose routes they are.
            parse_networks(settings.groote_trusted_networks) if settings.groote_events else (),
        ),
        tasks=tasks,
        analytics=analytics,
        conversations=conversations,
        webhooks=webhooks,
        sources=SourceService(
            unit_of_work=adapters.unit_of_work,
            reads=adapters.sources,
            relay=relay,
            indexer_queue=settings.indexer_queue,
            clock=clock,
        ),
        oauth=OAuthStatusService(store=adapters.oauth, platforms=settings.oauth_platforms),
        relay=relay,
        task_actions=TaskActions(
            unit_of_work=adapters.unit_of_work,
            tasks=tasks,
            relay=relay,
            engine_queue=settings.engine_queue,
            clock=clock,
        ),
        spend=SpendService(adapters.spend),
        alerts=AlertService(
            store=adapters.alerts or MemoryAlertStore(),
            analytics=analytics,
            bus=adapters.bus,
            sender=sender,
            budgets=alerts.budgets,
            failure_rules=alerts.failure_rates,
            webhooks=alerts.webhooks,
            spend=adapters.spend,
            clock=clock,
        ),
        alert_sender=sender,
        hub=_hub(adapters, tasks, settings),
        ingestor=_ingestor(adapters, tasks, webhooks, settings),
        groote=groote,
        flows=FlowConversations(
            conversations=conversations,
            origins=adapters.origins,
            clock=clock,
            default_agent=settings.groote_agent_type,
        ),
        groote_ingestor=_groote_ingestor(adapters, groote),
        otel=OtelIngest(
            tasks=tasks,
            conversations=conversations,
            bus=adapters.bus,
            unit_of_work=adapters.unit_of_work,
            prices=prices,
            clock=clock,
        ),
        retention=_retention(adapters, settings, clock),
        limiter=_limiter(adapters, settings),
        tickets=adapters.tickets,
    )


def alerts_config(settings: Settings) -> AlertsConfig:
    """The configured budgets and rules; a broken file stops start-up naming it."""
    if not settings.alerts_file:
        return AlertsConfig()
    try:
        return load_alerts_file(settings.alerts_file)
    except ValueError as exc:
        raise SystemExit(str(exc)) from exc


def _hub(adapters: Adapters, tasks: TaskService, settings: Settings) -> Hub:
    async def final_status(task_id: str) -> Mapping[str, Any] | None:
        # Once per subscription to task:{id}: a finished task's status is sent at once.
        try:
            task = await tasks.get(task_id)
        except NotFound:
            return None
        return status_event(task) if task.status.is_terminal else None

    return Hub(
        adapters.bus,
        history_limit=settings.history_length,
        max_subscriptions=settings.ws_max_subscriptions,
        final_status=final_status,
    )


def _ingestor(
    adapters: Adapters, tasks: TaskService, webhooks: WebhookService, settings: Settings
) -> Ingestor:
    ingestor = Ingestor(adapters.ingest, batch=settings.ingest_batch, refusable=_unstorable)
    ingestor.register_batch(
        LIFECYCLE_TYPES,
        lifecycle_batch_handler(tasks),
        opening=("task.created",),
        recover=tasks.announce_left_over,
    )
    ingestor.register(WEBHOOK_EVENT_TYPE, webhook_ingest_handler(webhooks))
    return ingestor


def _unstorable(error: Exception) -> bool:
    """The database refused a value of the event itself (a data or constraint error that a
    retry would meet again): that event is dead-lettered, not retried for ever (for the
    groote-ai stream too: one such entry paused its ingestion for good)."""
    from sqlalchemy.exc import DataError, IntegrityError

    return isinstance(error, DataError | IntegrityError) or is_unstorable_value(error)


def _groote_ingestor(adapters: Adapters, bridge: GrooteBridge) -> Ingestor | None:
    if adapters.groote_events is None:
        return None
    ingestor = Ingestor(adapters.groote_events, refusable=_unstorable)
    # One registration for every type: a read's entries are one run, in stream order.
    ingestor.register_batch(HANDLED_TYPES, bridge.stream_batch_handler())
    return ingestor


def retention_ages(settings: Settings) -> dict[DataKind, timedelta]:
    days = {
        DataKind.TASK_TEXT: settings.retention_task_text_days,
        DataKind.TASKS: settings.retention_tasks_days,
        DataKind.MESSAGES: settings.retention_messages_days,
        DataKind.WEBHOOK_PAYLOADS: settings.retention_webhook_payloads_days,
        DataKind.WEBHOOK_EVENTS: settings.retention_webhook_events_days,
    }
    return {kind: timedelta(days=age) for kind, age in days.items() if age is not None}


def _retention(adapters: Adapters, settings: Settings, clock: Clock) -> RetentionJob | None:
    ages = retention_ages(settings)
    if adapters.retention is None or not ages:
        return None
    return RetentionJob(adapters.retention, ages, batch=settings.retention_batch, clock=clock)


def _limiter(adapters: Adapters, settings: Settings) -> RateLimiter | None:
    """The limiter of the configured budgets, or None when every budget is unlimited."""
    limits = {
        Budget.READ: settings.rate_limit_read_per_minute,
        Budget.WRITE: settings.rate_limit_write_per_minute,
        Budget.INGEST: settings.rate_limit_ingest_per_minute,
    }
    if not any(limit > 0 for limit in limits.values()):
        return None
    return RateLimiter(adapters.request_counter, limits)
