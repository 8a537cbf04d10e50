"""Liveness, readiness, service status and the agent list."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Controller, Request, Response, get
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec

from dashboard_api import __version__
from dashboard_api.bootstrap import Services
from dashboard_api.domain.services.tasks import TaskService
from dashboard_api.http.auth import PUBLIC
from dashboard_api.http.dependencies import services_of
from dashboard_api.http.docs import ANONYMOUS
from dashboard_api.http.problem_responses import GUARDED, errors
from dashboard_api.http.problems import problem
from dashboard_api.http.schemas.system import (
    Health,
    Reachability,
    Readiness,
    RealtimeStatus,
    ServiceStatus,
)
from dashboard_api.http.schemas.tasks import AgentList

PROBE_TIMEOUT_SECONDS = 2.0


async def _probe(runtime: Services, name: str) -> Reachability:
    check = runtime.adapters.health_checks.get(name)
    if check is None:
        return Reachability(configured=False, reachable=None)
    try:
        await asyncio.wait_for(check(), PROBE_TIMEOUT_SECONDS)
    except Exception as exc:  # any failure means "not reachable"; the kind is reported
        return Reachability(configured=True, reachable=False, error=type(exc).__name__)
    return Reachability(configured=True, reachable=True)


class SystemController(Controller):
    tags = ["system"]

    @get(
        "/health",
        opt=PUBLIC,
        operation_id="getHealth",
        summary="Liveness: the process answers",
        security=ANONYMOUS,
    )
    async def health(self) -> Health:
        return Health(status="ok")

    @get(
        "/ready",
        opt=PUBLIC,
        operation_id="getReadiness",
        summary="Readiness: the database and Redis are reachable and ingestion makes progress",
        security=ANONYMOUS,
        # Either answer is built here: the document takes both from the declarations.
        responses={
            200: ResponseSpec(
                Readiness,
                description="Every backing service is reachable",
                generate_examples=False,
            ),
            **errors(503),
        },
    )
    async def ready(self, request: Request[Any, Any, State]) -> Response[Any]:
        runtime = services_of(request.app.state)
        probes = {name: await _probe(runtime, name) for name in runtime.adapters.health_checks}
        checks = {name: probe.reachable is not False for name, probe in probes.items()}
        # Reachable is not enough: ingestion that cannot make progress (its group lost, the
        # store refusing writes) leaves events unapplied, and says why.
        ingestor = runtime.ingestor
        checks["ingestion"] = ingestor.healthy
        failing = sorted(name for name, ok in checks.items() if not ok)
        if failing:
            extra: dict[str, Any] = {"checks": checks}
            if not ingestor.healthy:
                extra["ingestion_error"] = ingestor.last_error
            return problem(
                request,
                status=503,
                type_="not-ready",
                title="Not ready",
                detail=f"failing: {', '.join(failing)}",
                headers={"Retry-After": "5"},
                extra=extra,
            )
        return Response(Readiness(status="ready", checks=checks))

    @get(
        "/api/status",
        operation_id="getServiceStatus",
        summary="Service health and live load",
        responses=errors(*GUARDED),
    )
    async def status(
        self, request: Request[Any, Any, State], task_service: NamedDependency[TaskService]
    ) -> ServiceStatus:
        runtime = services_of(request.app.state)
        database, redis = await asyncio.gather(
            _probe(runtime, "database"), _probe(runtime, "redis")
        )
        healthy = database.reachable is not False and redis.reachable is not False
        return ServiceStatus(
            status="ok" if healthy else "degraded",
            version=__version__,
            started_at=runtime.started_at,
            uptime_seconds=round(runtime.uptime_seconds(), 3),
            database=database,
            redis=redis,
            tasks=await task_service.counts() if database.reachable is not False else None,
            realtime=RealtimeStatus(
                connections=runtime.hub.connections,
                subscriptions=runtime.hub.subscriptions,
                channels=runtime.hub.channels,
                bus_connected=runtime.hub.bus_connected,
                dropped_slow_clients=runtime.hub.dropped_slow_clients,
                ingested_events=runtime.ingestor.applied,
                rejected_events=runtime.ingestor.rejected,
            ),
        )

    @get(
        "/api/agents",
        operation_id="listAgents",
        summary="Configured and seen agents with live counts",
        responses=errors(*GUARDED),
    )
    async def agents(self, task_service: NamedDependency[TaskService]) -> AgentList:
        return AgentList(items=await task_service.agents())
