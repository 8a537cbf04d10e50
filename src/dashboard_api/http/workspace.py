"""The services of conversations, webhooks and sources, built once per app, and the relay loop
that retries hand-offs to the engine and the indexer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from litestar.datastructures import State
from litestar.di import Provide

from dashboard_api.bootstrap.adapters import Adapters
from dashboard_api.domain.clock import Clock
from dashboard_api.domain.services.conversations import ConversationService
from dashboard_api.domain.services.handoff import HandoffRelay
from dashboard_api.domain.services.sources import OAuthStatusService, SourceService
from dashboard_api.domain.services.task_actions import TaskActions
from dashboard_api.domain.services.tasks import TaskService
from dashboard_api.domain.services.webhooks import WebhookService
from dashboard_api.settings import Settings

_log = logging.getLogger(__name__)
_STATE_KEY = "workspace"


@dataclass
class WorkspaceServices:
    conversations: ConversationService
    webhooks: WebhookService
    sources: SourceService
    oauth: OAuthStatusService
    relay: HandoffRelay
    task_actions: TaskActions

    def install(self, state: State) -> None:
        state[_STATE_KEY] = self

    @staticmethod
    def of(state: State) -> WorkspaceServices:
        services = state.get(_STATE_KEY)
        if not isinstance(services, WorkspaceServices):
            raise RuntimeError("the app has not started: its lifespan builds the services")
        return services


def build_workspace(
    adapters: Adapters, tasks: TaskService, settings: Settings, clock: Clock
) -> WorkspaceServices:
    stores = adapters.workspace
    relay = HandoffRelay(unit_of_work=adapters.unit_of_work, work_queue=stores.work_queue)
    return WorkspaceServices(
        conversations=ConversationService(
            unit_of_work=adapters.unit_of_work,
            conversations=stores.conversations,
            messages=stores.messages,
            tasks=tasks,
            bus=adapters.bus,
            relay=relay,
            engine_queue=settings.engine_queue,
            clock=clock,
        ),
        webhooks=WebhookService(
            unit_of_work=adapters.unit_of_work,
            events=stores.webhook_events,
            rollups=stores.webhook_rollups,
            configs=stores.webhook_configs,
            bus=adapters.bus,
            clock=clock,
        ),
        sources=SourceService(
            unit_of_work=adapters.unit_of_work,
            reads=stores.sources,
            relay=relay,
            indexer_queue=settings.indexer_queue,
            clock=clock,
        ),
        oauth=OAuthStatusService(store=stores.oauth, platforms=settings.oauth_platforms),
        relay=relay,
        task_actions=TaskActions(
            unit_of_work=adapters.unit_of_work,
            tasks=tasks,
            relay=relay,
            engine_queue=settings.engine_queue,
            clock=clock,
        ),
    )


@contextlib.asynccontextmanager
async def relay_loop(relay: HandoffRelay, every_seconds: float) -> AsyncIterator[None]:
    """Deliver what a crash or an unreachable queue left in the outbox: at start, then every
    `every_seconds`, until the app stops."""

    async def rounds() -> None:
        while True:
            try:
                await relay.deliver_all()
            except Exception:  # queue or database down: the next round tries again
                _log.warning("hand-off relay round failed", exc_info=True)
            await asyncio.sleep(every_seconds)

    runner = asyncio.create_task(rounds(), name="handoff-relay")
    try:
        yield
    finally:
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner


def _conversations(state: State) -> ConversationService:
    return WorkspaceServices.of(state).conversations


def _webhooks(state: State) -> WebhookService:
    return WorkspaceServices.of(state).webhooks


def _sources(state: State) -> SourceService:
    return WorkspaceServices.of(state).sources


def _oauth(state: State) -> OAuthStatusService:
    return WorkspaceServices.of(state).oauth


def _task_actions(state: State) -> TaskActions:
    return WorkspaceServices.of(state).task_actions


WORKSPACE_DEPENDENCIES = {
    "conversation_service": Provide(_conversations, sync_to_thread=False),
    "webhook_service": Provide(_webhooks, sync_to_thread=False),
    "source_service": Provide(_sources, sync_to_thread=False),
    "oauth_service": Provide(_oauth, sync_to_thread=False),
    "task_actions": Provide(_task_actions, sync_to_thread=False),
}
