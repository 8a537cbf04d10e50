"""`/api/exports`: the task list and the webhook events as CSV or NDJSON, streamed.

Same filters as the lists (no `limit`: an export is everything that matches), rows exactly the
list items, newest first. The first page is read before the response starts, so a store that
is down is a 503 like any other read.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Stream

from dashboard_api.domain.model.tasks import TaskCursor, TaskStatus, TaskSummary
from dashboard_api.domain.model.webhooks import WebhookEventCursor, WebhookStatus
from dashboard_api.domain.pagination import Page, decode_cursor
from dashboard_api.domain.services.export import EXPORT_PAGE_SIZE, every_row, first_page
from dashboard_api.domain.services.tasks import TaskService
from dashboard_api.domain.services.webhooks import WebhookService
from dashboard_api.http.content_types import answered_as
from dashboard_api.http.controllers.tasks import Filter, Time, task_query
from dashboard_api.http.controllers.webhooks import From, To, webhook_event_query
from dashboard_api.http.export_formats import ExportFormat, render
from dashboard_api.http.problem_responses import READ_ERRORS, errors
from dashboard_api.http.schemas.webhooks import WebhookEventSummary

Format = Annotated[ExportFormat, QueryParameter(name="format")]


# The `format` parameter picks one of the two.
ExportAnswer = answered_as(
    "The rows, CSV with a header row or one JSON object a line", "text/csv", "application/x-ndjson"
)


def _stream(body: object, fmt: ExportFormat, name: str) -> Stream:
    extension = "csv" if fmt is ExportFormat.CSV else "ndjson"
    return Stream(
        body,  # type: ignore[arg-type]
        media_type=fmt.media_type,
        headers={"Content-Disposition": f'attachment; filename="{name}.{extension}"'},
    )


class ExportController(Controller):
    path = "/api/exports"
    tags = ["exports"]

    @get(
        "/tasks",
        operation_id="exportTasks",
        summary="Every task matching the list's filters, as CSV or NDJSON",
        responses=errors(*READ_ERRORS),
        operation_class=ExportAnswer,
    )
    async def export_tasks(
        self,
        task_service: NamedDependency[TaskService],
        fmt: Format = ExportFormat.NDJSON,
        status: Annotated[list[TaskStatus] | None, QueryParameter(max_items=6)] = None,
        agent_type: Filter = None,
        assigned_agent: Filter = None,
        source: Filter = None,
        session_id: Filter = None,
        conversation_id: Filter = None,
        created_after: Time = None,
        created_before: Time = None,
        q: Annotated[str | None, QueryParameter(min_length=1, max_length=200)] = None,
    ) -> Stream:
        query = task_query(
            status,
            agent_type=agent_type,
            assigned_agent=assigned_agent,
            source=source,
            session_id=session_id,
            conversation_id=conversation_id,
            created_after=created_after,
            created_before=created_before,
            q=q,
            limit=EXPORT_PAGE_SIZE,
        )

        async def page_after(cursor: str | None) -> Page[TaskSummary]:
            position = decode_cursor(cursor, TaskCursor) if cursor else None
            return await task_service.list_tasks(msgspec.structs.replace(query, after=position))

        first = await first_page(page_after)
        columns = TaskSummary.__struct_fields__
        return _stream(render(every_row(first, page_after), columns, fmt), fmt, "tasks")

    @get(
        "/webhook-events",
        operation_id="exportWebhookEvents",
        summary="Webhook events matching the list's filters, CSV or NDJSON",
        responses=errors(*READ_ERRORS),
        operation_class=ExportAnswer,
    )
    async def export_webhook_events(
        self,
        webhook_service: NamedDependency[WebhookService],
        fmt: Format = ExportFormat.NDJSON,
        webhook_id: Filter = None,
        provider: Filter = None,
        status: Annotated[WebhookStatus | None, QueryParameter()] = None,
        start: From = None,
        end: To = None,
    ) -> Stream:
        query = webhook_event_query(
            webhook_id=webhook_id,
            provider=provider,
            status=status,
            start=start,
            end=end,
            limit=EXPORT_PAGE_SIZE,
        )

        async def page_after(cursor: str | None) -> Page[WebhookEventSummary]:
            position = decode_cursor(cursor, WebhookEventCursor) if cursor else None
            page = await webhook_service.events(msgspec.structs.replace(query, after=position))
            items = [WebhookEventSummary.of(event) for event in page.items]
            return Page(items=items, next_cursor=page.next_cursor)

        first = await first_page(page_after)
        columns = WebhookEventSummary.__struct_fields__
        return _stream(render(every_row(first, page_after), columns, fmt), fmt, "webhook-events")
