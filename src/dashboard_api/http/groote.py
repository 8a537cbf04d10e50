"""The groote-ai adapter in a running app: its services, its two readers, its routes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from litestar.datastructures import State
from litestar.di import Provide
from litestar.types import ControllerRouterHandler

from dashboard_api.bootstrap.adapters import Adapters
from dashboard_api.domain.clock import Clock
from dashboard_api.domain.model.groote_events import HANDLED_TYPES
from dashboard_api.domain.services.groote import GrooteBridge
from dashboard_api.domain.services.groote_conversations import FlowConversations
from dashboard_api.domain.services.ingestion import Ingestor
from dashboard_api.domain.services.tasks import TaskService
from dashboard_api.http.controllers.conversations import ConversationController
from dashboard_api.http.controllers.groote import (
    GrooteConversationController,
    GrooteTaskController,
)
from dashboard_api.http.controllers.tasks import TaskController
from dashboard_api.http.workspace import WorkspaceServices
from dashboard_api.settings import Settings

_STATE_KEY = "groote"


@dataclass
class GrooteServices:
    bridge: GrooteBridge
    flows: FlowConversations
    ingestor: Ingestor | None

    def install(self, state: State) -> None:
        state[_STATE_KEY] = self

    @staticmethod
    def of(state: State) -> GrooteServices:
        services = state.get(_STATE_KEY)
        if not isinstance(services, GrooteServices):
            raise RuntimeError("the groote-ai adapter is not running in this app")
        return services


def build_groote(
    adapters: Adapters,
    tasks: TaskService,
    workspace: WorkspaceServices,
    settings: Settings,
    clock: Clock,
) -> GrooteServices:
    bridge = GrooteBridge(
        tasks=tasks,
        webhooks=workspace.webhooks,
        origins=adapters.origins,
        bus=adapters.bus,
        unit_of_work=adapters.unit_of_work,
        clock=clock,
        default_agent=settings.groote_agent_type,
        wait_seconds=settings.groote_wait_seconds,
    )
    flows = FlowConversations(
        conversations=workspace.conversations,
        origins=adapters.origins,
        clock=clock,
        default_agent=settings.groote_agent_type,
    )
    ingestor = None
    if adapters.groote_events is not None:
        ingestor = Ingestor(adapters.groote_events)
        handler = bridge.stream_handler()
        for event_type in HANDLED_TYPES:
            ingestor.register(event_type, handler)
    return GrooteServices(bridge=bridge, flows=flows, ingestor=ingestor)


@contextlib.asynccontextmanager
async def groote_running(services: GrooteServices, redis_url: str | None) -> AsyncIterator[None]:
    """Read the engine's stream and its status notes while the app runs."""
    workers = []
    if services.ingestor is not None:
        workers.append(asyncio.create_task(services.ingestor.run(), name="groote-events"))
    if redis_url is not None:
        from dashboard_api.adapters.redis.groote_status import listen_for_status_notes

        notes = listen_for_status_notes(redis_url, services.bridge.status_note)
        workers.append(asyncio.create_task(notes, name="groote-status-notes"))
    try:
        yield
    finally:
        for worker in workers:
            worker.cancel()
        for worker in workers:
            with contextlib.suppress(asyncio.CancelledError):
                await worker


def task_and_conversation_controllers(settings: Settings) -> list[ControllerRouterHandler]:
    """The native controllers, or their groote-ai flavour when the adapter is on."""
    if settings.groote_events:
        return [GrooteTaskController, GrooteConversationController]
    return [TaskController, ConversationController]


def _bridge(state: State) -> GrooteBridge:
    return GrooteServices.of(state).bridge


def _flows(state: State) -> FlowConversations:
    return GrooteServices.of(state).flows


GROOTE_DEPENDENCIES = {
    "groote_bridge": Provide(_bridge, sync_to_thread=False),
    "flow_conversations": Provide(_flows, sync_to_thread=False),
}
