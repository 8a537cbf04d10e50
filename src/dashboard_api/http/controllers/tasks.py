"""`/api/tasks`: the task list, one task, and what the engine or a user changes about it."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, get, patch, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter, QueryParameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_202_ACCEPTED

from dashboard_api.domain.limits import ID_CHARS, LABEL_CHARS
from dashboard_api.domain.model.tasks import TaskCursor, TaskQuery, TaskStatus
from dashboard_api.domain.pagination import MAX_PAGE_SIZE, decode_cursor
from dashboard_api.domain.services.tasks import TaskService
from dashboard_api.domain.times import parse_window
from dashboard_api.http.auth import INGEST
from dashboard_api.http.pages import TaskPage
from dashboard_api.http.problem_responses import READ_ERRORS, WRITE_ERRORS, errors
from dashboard_api.http.schemas.tasks import (
    StopAccepted,
    TaskCreate,
    TaskDetail,
    TaskUpdate,
)
from dashboard_api.http.strict_body import StrictBody

Filter = Annotated[str | None, QueryParameter(min_length=1, max_length=LABEL_CHARS)]
# Parsed by the one time rule, not converted by Litestar, whose lax conversion would take a
# number (`0.5`) as a Unix time.
Time = Annotated[
    str | None, QueryParameter(min_length=1, max_length=64, schema_extra={"format": "date-time"})
]
TaskIdPath = Annotated[str, PathParameter(min_length=1, max_length=ID_CHARS)]


def task_query(
    status: list[TaskStatus] | None,
    *,
    agent_type: str | None,
    assigned_agent: str | None,
    source: str | None,
    session_id: str | None,
    conversation_id: str | None,
    created_after: str | None,
    created_before: str | None,
    q: str | None,
    limit: int,
) -> TaskQuery:
    """The list's filters as a query, times read by the one time rule: the list and the
    export take the same parameters and must mean the same rows."""
    after, before = parse_window(created_after, created_before, ("created_after", "created_before"))
    return TaskQuery(
        statuses=tuple(dict.fromkeys(status or ())),
        agent_type=agent_type,
        assigned_agent=assigned_agent,
        source=source,
        session_id=session_id,
        conversation_id=conversation_id,
        created_after=after,
        created_before=before,
        text=q,
        limit=limit,
    )


class TaskController(Controller):
    path = "/api/tasks"
    tags = ["tasks"]

    @get(
        "/",
        operation_id="listTasks",
        summary="List tasks, newest first, with keyset pagination",
        responses=errors(*READ_ERRORS),
    )
    async def list_tasks(
        self,
        task_service: NamedDependency[TaskService],
        status: Annotated[list[TaskStatus] | None, QueryParameter(max_items=6)] = None,
        agent_type: Filter = None,
        assigned_agent: Filter = None,
        source: Filter = None,
        session_id: Filter = None,
        conversation_id: Filter = None,
        created_after: Time = None,
        created_before: Time = None,
        q: Annotated[str | None, QueryParameter(min_length=1, max_length=200)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE_SIZE)] = 50,
        cursor: Annotated[str | None, QueryParameter(max_length=512)] = None,
    ) -> TaskPage:
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
            limit=limit,
        )
        if cursor:
            query = msgspec.structs.replace(query, after=decode_cursor(cursor, TaskCursor))
        return await task_service.list_tasks(query)

    @get(
        "/{task_id:str}",
        operation_id="getTask",
        summary="One task with its full input and output",
        responses=errors(*READ_ERRORS, 404),
    )
    async def get_task(
        self, task_service: NamedDependency[TaskService], task_id: TaskIdPath
    ) -> TaskDetail:
        return TaskDetail.of(await task_service.get(task_id))

    @post(
        "/",
        status_code=HTTP_201_CREATED,
        opt=INGEST,
        operation_id="createTask",
        summary="Register a task (duplicate id: 409)",
        responses=errors(*WRITE_ERRORS, 409),
        dto=StrictBody[TaskCreate],
        return_dto=None,
    )
    async def create_task(
        self, task_service: NamedDependency[TaskService], data: JSONBody[TaskCreate]
    ) -> TaskDetail:
        return TaskDetail.of(await task_service.register(data.to_domain()))

    @patch(
        "/{task_id:str}",
        opt=INGEST,
        operation_id="updateTask",
        summary="Change a task's status and metrics (an illegal transition: 409)",
        responses=errors(*WRITE_ERRORS, 404, 409),
        dto=StrictBody[TaskUpdate],
        return_dto=None,
    )
    async def update_task(
        self,
        task_service: NamedDependency[TaskService],
        task_id: TaskIdPath,
        data: JSONBody[TaskUpdate],
    ) -> TaskDetail:
        return TaskDetail.of(await task_service.update(task_id, data.to_domain()))

    @post(
        "/{task_id:str}/stop",
        status_code=HTTP_202_ACCEPTED,
        operation_id="stopTask",
        summary="Request cancellation: the engine receives a stop command",
        responses=errors(*READ_ERRORS, 404, 409, 415),
    )
    async def stop_task(
        self, task_service: NamedDependency[TaskService], task_id: TaskIdPath
    ) -> StopAccepted:
        task = await task_service.request_stop(task_id)
        return StopAccepted(task_id=task.task_id, status=task.status)
