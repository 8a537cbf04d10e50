"""Operator actions on tasks: stop every task a filter matches, retry a finished one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

import msgspec
from litestar import Controller, post
from litestar.di import NamedDependency
from litestar.openapi.spec import Operation, Reference
from litestar.params import JSONBody, PathParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED
from msgspec import Meta

from dashboard_api.domain.limits import ID_CHARS, Id, Label, Name
from dashboard_api.domain.model.tasks import TaskQuery, TaskStatus
from dashboard_api.domain.services.task_actions import MAX_BULK_STOP, BulkStopReport, TaskActions
from dashboard_api.domain.times import time_window
from dashboard_api.http.problem_responses import WRITE_ERRORS, errors
from dashboard_api.http.schemas.tasks import TaskDetail
from dashboard_api.http.strict_body import StrictBody


class StopFilter(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The task list's filters (unfinished tasks only) and how many tasks to stop at most."""

    status: Annotated[list[TaskStatus], Meta(max_length=6)] = []
    agent_type: Name | None = None
    assigned_agent: Label | None = None
    source: Name | None = None
    session_id: Label | None = None
    conversation_id: Label | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    q: Annotated[str, Meta(min_length=1, max_length=200)] | None = None
    max_tasks: Annotated[int, Meta(ge=1, le=MAX_BULK_STOP)] = 100

    def to_query(self) -> TaskQuery:
        after, before = time_window(
            self.created_after, self.created_before, ("created_after", "created_before")
        )
        return TaskQuery(
            statuses=tuple(dict.fromkeys(self.status)),
            agent_type=self.agent_type,
            assigned_agent=self.assigned_agent,
            source=self.source,
            session_id=self.session_id,
            conversation_id=self.conversation_id,
            created_after=after,
            created_before=before,
            text=self.q,
        )


class RetryRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Optional: without a body the new task gets a generated id."""

    task_id: Id | None = None  # the new task's id: a repeated request is then a 409


@dataclass
class OptionalBodyOperation(Operation):
    """Declares the body optional: Litestar marks every request body required
    (litestar/_openapi/request_body.py), while a retry without one is valid."""

    def __post_init__(self) -> None:
        if self.request_body is not None and not isinstance(self.request_body, Reference):
            self.request_body.required = False


class TaskActionController(Controller):
    tags = ["tasks"]

    @post(
        "/api/bulk/stop-tasks",
        status_code=HTTP_200_OK,
        operation_id="stopTasksInBulk",
        summary="Request a stop of every unfinished task matching the filters (bounded)",
        responses=errors(*WRITE_ERRORS),
        dto=StrictBody[StopFilter],
        return_dto=None,
    )
    async def stop_matching(
        self, task_actions: NamedDependency[TaskActions], data: JSONBody[StopFilter]
    ) -> BulkStopReport:
        return await task_actions.stop_matching(data.to_query(), data.max_tasks)

    @post(
        "/api/tasks/{task_id:str}/retry",
        status_code=HTTP_201_CREATED,
        operation_id="retryTask",
        summary="Run a failed or cancelled task again as a new linked task (409 otherwise)",
        responses=errors(*WRITE_ERRORS, 404, 409),
        # An absent body never reaches the DTO (Litestar passes the default, None).
        dto=StrictBody[RetryRequest],
        return_dto=None,
        operation_class=OptionalBodyOperation,
    )
    async def retry(
        self,
        task_actions: NamedDependency[TaskActions],
        task_id: Annotated[str, PathParameter(min_length=1, max_length=ID_CHARS)],
        data: JSONBody[RetryRequest | None] = None,
    ) -> TaskDetail:
        new_id = data.task_id if data is not None else None
        return TaskDetail.of(await task_actions.retry(task_id, new_id))
