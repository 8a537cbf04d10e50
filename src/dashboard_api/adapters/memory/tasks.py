"""Tasks kept in a dict, with the same ordering, filters and conflicts as the SQL store."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import msgspec

from dashboard_api.adapters.memory.tables import MemoryDatabase
from dashboard_api.domain.errors import Conflict
from dashboard_api.domain.model.tasks import (
    INPUT_PREVIEW_CHARS,
    AgentActivity,
    Task,
    TaskCounts,
    TaskQuery,
    TaskStatus,
    TaskSummary,
    TaskView,
    TaskWindow,
)


class MemoryTaskStore:
    """Reads see committed state plus, inside a unit of work, that unit's own pending writes."""

    def __init__(self, db: MemoryDatabase, pending: dict[str, Task] | None = None) -> None:
        self._db = db
        self._pending = pending

    def _view(self) -> dict[str, Task]:
        if not self._pending:
            return self._db.tasks
        return {**self._db.tasks, **self._pending}

    def _write(self, task: Task) -> None:
        if self._pending is None:
            self._db.tasks[task.task_id] = task
        else:
            self._pending[task.task_id] = task

    async def add(self, task: Task) -> None:
        if task.task_id in self._view():
            raise Conflict(f"task {task.task_id} already exists", task_id=task.task_id)
        self._write(task)

    async def get(self, task_id: str) -> Task | None:
        return self._view().get(task_id)

    async def get_view(self, task_id: str) -> TaskView | None:
        task = self._view().get(task_id)
        return None if task is None else TaskView.of(task)

    async def get_many(self, task_ids: Sequence[str]) -> dict[str, Task]:
        view = self._view()
        return {task_id: view[task_id] for task_id in task_ids if task_id in view}

    async def replace_many(self, tasks: Sequence[Task]) -> None:
        # A unit of work holds the database's write lock: nobody changed them meanwhile.
        for task in tasks:
            self._write(task)

    async def add_many(self, tasks: Sequence[Task]) -> None:
        view = self._view()
        ids = [task.task_id for task in tasks]
        if len(set(ids)) != len(ids) or any(task_id in view for task_id in ids):
            raise Conflict("a task of the batch already exists")
        for task in tasks:
            self._write(task)

    async def save_many(self, added: Sequence[Task], replaced: Sequence[Task]) -> None:
        await self.add_many(added)
        await self.replace_many(replaced)

    async def replace(self, task: Task, *, expected_version: int) -> bool:
        stored = self._view().get(task.task_id)
        if stored is None or stored.version != expected_version:
            return False
        self._write(task)
        return True

    async def find(self, query: TaskQuery) -> list[TaskSummary]:
        matches = [task for task in self._view().values() if _matches(task, query)]
        matches.sort(key=lambda task: (task.created_at, task.task_id), reverse=True)
        return [_summary(task) for task in matches[: query.limit]]

    async def agent_activity(self) -> list[AgentActivity]:
        agents: dict[str, AgentActivity] = {}
        for task in self._view().values():
            seen = agents.get(task.agent_type)
            queued = (seen.queued if seen else 0) + (task.status is TaskStatus.QUEUED)
            running = (seen.running if seen else 0) + (task.status is TaskStatus.RUNNING)
            last = task.created_at
            if seen and seen.last_activity_at and seen.last_activity_at > last:
                last = seen.last_activity_at
            agents[task.agent_type] = AgentActivity(
                agent_type=task.agent_type, queued=queued, running=running, last_activity_at=last
            )
        return sorted(agents.values(), key=lambda agent: agent.agent_type)

    async def active_counts(self) -> TaskCounts:
        statuses = [task.status for task in self._view().values()]
        return TaskCounts(
            queued=statuses.count(TaskStatus.QUEUED),
            running=statuses.count(TaskStatus.RUNNING),
            waiting_input=statuses.count(TaskStatus.WAITING_INPUT),
        )

    async def session_ids(self, window: TaskWindow, *, after: str | None, limit: int) -> list[str]:
        ids = {
            task.session_id
            for task in self._view().values()
            if task.session_id is not None
            and (after is None or task.session_id > after)
            and _in_window(task, window)
        }
        return sorted(ids)[:limit]

    async def session_tasks(self, window: TaskWindow, session_ids: Sequence[str]) -> list[Task]:
        wanted = set(session_ids)
        found = [
            _without_text(task)
            for task in self._view().values()
            if task.session_id in wanted and _in_window(task, window)
        ]
        return sorted(
            found, key=lambda task: (task.session_id or "", task.created_at, task.task_id)
        )


def _in_window(task: Task, window: TaskWindow) -> bool:
    return window.start <= task.created_at < window.end and (
        window.agent_type is None or task.agent_type == window.agent_type
    )


def _without_text(task: Task) -> Task:
    """What the SQL store reads for figures: the task without its large text fields."""
    return msgspec.structs.replace(task, input_message="", output=None, error=None)


def _matches(task: Task, query: TaskQuery) -> bool:
    if query.after is not None and (task.created_at, task.task_id) >= (
        query.after.created_at,
        query.after.task_id,
    ):
        return False
    equal_filters = (
        (query.agent_type, task.agent_type),
        (query.assigned_agent, task.assigned_agent),
        (query.source, task.source),
        (query.session_id, task.session_id),
        (query.conversation_id, task.conversation_id),
    )
    if any(wanted is not None and wanted != actual for wanted, actual in equal_filters):
        return False
    if query.statuses and task.status not in query.statuses:
        return False
    if query.created_after is not None and task.created_at < query.created_after:
        return False
    if query.created_before is not None and task.created_at >= query.created_before:
        return False
    return query.text is None or query.text.casefold() in task.input_message.casefold()


def _summary(task: Task) -> TaskSummary:
    return TaskSummary(
        task_id=task.task_id,
        status=task.status,
        agent_type=task.agent_type,
        source=task.source,
        created_at=task.created_at,
        input_preview=task.input_message[:INPUT_PREVIEW_CHARS],
        assigned_agent=task.assigned_agent,
        session_id=task.session_id,
        conversation_id=task.conversation_id,
        model=task.model,
        cost_usd=task.cost_usd,
        input_tokens=task.input_tokens,
        output_tokens=task.output_tokens,
        started_at=task.started_at,
        completed_at=task.completed_at,
    )


class MemoryProcessedEvents:
    def __init__(self, db: MemoryDatabase, pending: dict[str, datetime]) -> None:
        self._db = db
        self._pending = pending
        self.cutoffs: list[datetime] = []

    async def contains(self, event_id: str) -> bool:
        return event_id in self._pending or event_id in self._db.processed_events

    async def seen(self, event_ids: Sequence[str]) -> set[str]:
        return {event_id for event_id in event_ids if await self.contains(event_id)}

    async def add_many(self, event_ids: Sequence[str], processed_at: datetime) -> None:
        if len(set(event_ids)) != len(event_ids) or await self.seen(event_ids):
            raise Conflict("an event of the batch was already processed")
        self._pending.update(dict.fromkeys(event_ids, processed_at))

    async def claim(self, event_ids: Sequence[str], processed_at: datetime) -> set[str]:
        fresh = {event_id for event_id in event_ids if not await self.contains(event_id)}
        self._pending.update(dict.fromkeys(fresh, processed_at))
        return fresh

    async def release(self, event_ids: Sequence[str]) -> None:
        for event_id in event_ids:
            self._pending.pop(event_id, None)  # only this unit's own marks

    async def add(self, event_id: str, processed_at: datetime) -> None:
        if await self.contains(event_id):
            raise Conflict(f"event {event_id} was already processed", event_id=event_id)
        self._pending[event_id] = processed_at

    async def forget_before(self, moment: datetime) -> int:
        # Applied at commit, like every other write of a unit of work.
        self.cutoffs.append(moment)
        return sum(1 for at in self._db.processed_events.values() if at < moment)
