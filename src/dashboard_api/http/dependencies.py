"""How a handler gets a service: the one `Services` object the app's lifespan installs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from litestar.datastructures import State
from litestar.di import Provide

from dashboard_api.bootstrap import Services

_STATE_KEY = "services"


def install(state: State, services: Services) -> None:
    state[_STATE_KEY] = services


def services_of(state: State) -> Services:
    services = state.get(_STATE_KEY)
    if not isinstance(services, Services):
        raise RuntimeError("the app has not started: its lifespan builds the services")
    return services


def _provider(pick: Callable[[Services], Any]) -> Provide:
    def provide(state: State) -> Any:
        return pick(services_of(state))

    return Provide(provide, sync_to_thread=False)


# Keyword names the controllers declare, and the service each one gets.
DEPENDENCIES = {
    "task_service": _provider(lambda services: services.tasks),
    "analytics_service": _provider(lambda services: services.analytics),
    "conversation_service": _provider(lambda services: services.conversations),
    "webhook_service": _provider(lambda services: services.webhooks),
    "source_service": _provider(lambda services: services.sources),
    "oauth_service": _provider(lambda services: services.oauth),
    "task_actions": _provider(lambda services: services.task_actions),
    "alert_service": _provider(lambda services: services.alerts),
    "spend_service": _provider(lambda services: services.spend),
    "groote_bridge": _provider(lambda services: services.groote),
    "flow_conversations": _provider(lambda services: services.flows),
}
