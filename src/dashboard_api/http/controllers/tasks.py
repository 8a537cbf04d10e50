"""`/api/tasks`: the task list, one task, and what the engine or a user changes about it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from litestar import Controller, get, patch, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter, QueryParameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_202_ACCEPTED

from dashboard_api.domain.limits import ID_CHARS, LABEL_CHARS
from dashboard_api.domain.pagination import MAX_PAGE_SIZE, Page, decode_cursor
from dashboard_api.domain.task_service import TaskService
from dashboard_api.domain.tasks import TaskCursor, TaskQuery, TaskStatus, TaskSummary
from dashboard_api.domain.times import time_window
from dashboard_api.http.auth import INGEST
from dashboard_api.http.schemas import (
    StopAccepted,
    TaskCreate,
    TaskDetail,
    TaskUpdate,
)

Filter = Annotated[str | None, QueryParameter(min_length=1, max_length=LABEL_CHARS)]
TaskIdPath = Annotated[str, PathParameter(min_length=1, max_length=ID_CHARS)]


class TaskController(Controller):
    path = "/api/tasks"
    tags = ["tasks"]

    @get("/", summary="List tasks, newest first, with keyset pagination")
    async def list_tasks(
        self,
        task_service: NamedDependency[TaskService],
        status: Annotated[list[TaskStatus] | None, QueryParameter(max_items=6)] = None,
        agent_type: Filter = None,
        assigned_agent: Filter = None,
        source: Filter = None,
        session_id: Filter = None,
        conversation_id: Filter = None,
        created_after: Annotated[datetime | None, QueryParameter()] = None,
        created_before: Annotated[datetime | None, QueryParameter()] = None,
        q: Annotated[str | None, QueryParameter(min_length=1, max_length=200)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE_SIZE)] = 50,
        cursor: Annotated[str | None, QueryParameter(max_length=512)] = None,
    ) -> Page[TaskSummary]:
        after, before = time_window(
            created_after, created_before, ("created_after", "created_before")
        )
        query = TaskQuery(
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
            after=decode_cursor(cursor, TaskCursor) if cursor else None,
        )
        return await task_service.list_tasks(query)

    @get("/{task_id:str}", summary="One task with its full input and output")
    async def get_task(
        self, task_service: NamedDependency[TaskService], task_id: TaskIdPath
    ) -> TaskDetail:
        return TaskDetail.of(await task_service.get(task_id))

    @post(
        "/", status_code=HTTP_201_CREATED, opt=INGEST, summary="Register a task (duplicate id: 409)"
    )
    async def create_task(
        self, task_service: NamedDependency[TaskService], data: JSONBody[TaskCreate]
    ) -> TaskDetail:
        return TaskDetail.of(await task_service.register(data.to_domain()))

    @patch("/{task_id:str}", opt=INGEST, summary="Change a task's status and metrics")
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
        summary="Request cancellation: the engine receives a stop command",
    )
    async def stop_task(
        self, task_service: NamedDependency[TaskService], task_id: TaskIdPath
    ) -> StopAccepted:
        task = await task_service.request_stop(task_id)
        return StopAccepted(task_id=task.task_id, status=task.status)
