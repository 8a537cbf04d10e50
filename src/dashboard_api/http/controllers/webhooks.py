"""`/api/webhooks`: configs with their traffic, events, and health figures."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody, PathParameter, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from dashboard_api.domain.limits import ID_CHARS, LABEL_CHARS
from dashboard_api.domain.model.webhooks import (
    WebhookEvent,
    WebhookEventCursor,
    WebhookEventQuery,
    WebhookStatus,
)
from dashboard_api.domain.pagination import MAX_PAGE_SIZE, Page, decode_cursor
from dashboard_api.domain.services.webhooks import (
    StatsReport,
    WebhookIdCursor,
    WebhookService,
)
from dashboard_api.domain.times import parse_window
from dashboard_api.http.auth import INGEST
from dashboard_api.http.pages import WebhookEventPage, WebhookPage
from dashboard_api.http.problem_responses import READ_ERRORS, WRITE_ERRORS, errors
from dashboard_api.http.schemas.webhooks import WebhookEventCreate, WebhookEventSummary
from dashboard_api.http.strict_body import StrictBody

Filter = Annotated[str | None, QueryParameter(min_length=1, max_length=LABEL_CHARS)]
Limit = Annotated[int, QueryParameter(ge=1, le=MAX_PAGE_SIZE)]
Cursor = Annotated[str | None, QueryParameter(max_length=512)]
# Parsed here rather than by the framework, so that an error names the parameter as the client
# wrote it ("from" is a Python keyword and cannot be the handler's argument name).
From = Annotated[
    str | None,
    QueryParameter(name="from", min_length=1, max_length=64, schema_extra={"format": "date-time"}),
]
To = Annotated[
    str | None,
    QueryParameter(name="to", min_length=1, max_length=64, schema_extra={"format": "date-time"}),
]


def _window(start: str | None, end: str | None) -> tuple[datetime | None, datetime | None]:
    return parse_window(start, end, ("from", "to"))


def webhook_event_query(
    *,
    webhook_id: str | None,
    provider: str | None,
    status: WebhookStatus | None,
    start: str | None,
    end: str | None,
    limit: int,
) -> WebhookEventQuery:
    """The event list's filters as a query: the list and the export take the same parameters
    and must mean the same rows."""
    created_after, created_before = _window(start, end)
    return WebhookEventQuery(
        webhook_id=webhook_id,
        provider=provider,
        status=status,
        created_after=created_after,
        created_before=created_before,
        limit=limit,
    )


class WebhookController(Controller):
    path = "/api/webhooks"
    tags = ["webhooks"]

    @get(
        "/",
        operation_id="listWebhooks",
        summary="Webhooks (configured and seen) with event counts and last event time",
        responses=errors(*READ_ERRORS),
    )
    async def list_webhooks(
        self,
        webhook_service: NamedDependency[WebhookService],
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> WebhookPage:
        after = decode_cursor(cursor, WebhookIdCursor).webhook_id if cursor else None
        return await webhook_service.list_webhooks(limit=limit, after=after)

    @get(
        "/events",
        operation_id="listWebhookEvents",
        summary="Webhook events, newest first, without payloads",
        responses=errors(*READ_ERRORS),
    )
    async def list_events(
        self,
        webhook_service: NamedDependency[WebhookService],
        webhook_id: Filter = None,
        provider: Filter = None,
        status: Annotated[WebhookStatus | None, QueryParameter()] = None,
        start: From = None,
        end: To = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> WebhookEventPage:
        query = msgspec.structs.replace(
            webhook_event_query(
                webhook_id=webhook_id,
                provider=provider,
                status=status,
                start=start,
                end=end,
                limit=limit,
            ),
            after=decode_cursor(cursor, WebhookEventCursor) if cursor else None,
        )
        page = await webhook_service.events(query)
        return Page(
            items=[WebhookEventSummary.of(event) for event in page.items],
            next_cursor=page.next_cursor,
        )

    @get(
        "/events/{event_id:str}",
        operation_id="getWebhookEvent",
        summary="One webhook event with its payload",
        responses=errors(*READ_ERRORS, 404),
    )
    async def get_event(
        self,
        webhook_service: NamedDependency[WebhookService],
        event_id: Annotated[str, PathParameter(min_length=1, max_length=ID_CHARS)],
    ) -> WebhookEvent:
        return await webhook_service.event(event_id)

    @post(
        "/events",
        status_code=HTTP_201_CREATED,
        operation_id="reportWebhookEvent",
        opt=INGEST,
        summary="A gateway reports an event (idempotent by event_id: a repeat answers 200)",
        responses={
            200: ResponseSpec(
                WebhookEvent,
                description="A repeat of an event already recorded",
                generate_examples=False,
            ),
            **errors(*WRITE_ERRORS, 409),
        },
        dto=StrictBody[WebhookEventCreate],
        return_dto=None,
    )
    async def report_event(
        self,
        webhook_service: NamedDependency[WebhookService],
        data: JSONBody[WebhookEventCreate],
    ) -> Response[WebhookEvent]:
        event, changed = await webhook_service.record_event(data.to_domain())
        return Response(event, status_code=HTTP_201_CREATED if changed else HTTP_200_OK)

    @get(
        "/stats",
        operation_id="getWebhookStats",
        summary="Per webhook and provider: counts, success rate, latency p50/p95",
        responses=errors(*READ_ERRORS),
    )
    async def stats(
        self,
        webhook_service: NamedDependency[WebhookService],
        webhook_id: Filter = None,
        provider: Filter = None,
        start: From = None,
        end: To = None,
    ) -> StatsReport:
        window_from, window_to = _window(start, end)
        return await webhook_service.stats(
            start=window_from, end=window_to, webhook_id=webhook_id, provider=provider
        )
