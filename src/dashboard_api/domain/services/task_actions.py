"""What an operator does to many tasks or to a finished one: stop all that match, run one again."""

from __future__ import annotations

import logging
from enum import StrEnum

import msgspec

from dashboard_api.domain.clock import Clock, utc_now
from dashboard_api.domain.errors import Conflict, InvalidInput, NotFound
from dashboard_api.domain.ids import uuid7
from dashboard_api.domain.model.channels import wire_time
from dashboard_api.domain.model.handoff import OutboxEntry
from dashboard_api.domain.model.tasks import ACTIVE_STATUSES, Task, TaskQuery, TaskStatus
from dashboard_api.domain.ports import UnitOfWorkFactory
from dashboard_api.domain.services.handoff import HandoffRelay
from dashboard_api.domain.services.tasks import TaskService

_log = logging.getLogger(__name__)

# One request stops at most this many tasks: its answer lists each, and it must finish well
# inside a proxy's timeout. `truncated` says to send it again (stopped tasks no longer match).
MAX_BULK_STOP = 1_000
RETRYABLE = frozenset({TaskStatus.FAILED, TaskStatus.CANCELLED})


class StopOutcome(StrEnum):
    CANCELLED = "cancelled"  # it was queued: cancelled at once
    STOP_REQUESTED = "stop_requested"  # it runs: the engine received a stop command
    ALREADY_FINISHED = "already_finished"  # it finished between the scan and the stop
    NOT_FOUND = "not_found"  # retention removed it meanwhile


class StopResult(msgspec.Struct, kw_only=True, frozen=True):
    task_id: str
    outcome: StopOutcome
    status: TaskStatus | None


class BulkStopReport(msgspec.Struct, kw_only=True, frozen=True):
    results: list[StopResult]
    truncated: bool  # more tasks matched than one request stops


def retry_job(task: Task) -> dict[str, object]:
    """What the engine reads from its queue to run a retry (the fields of a new task's job)."""
    return {
        "type": "task_queued",
        "task_id": task.task_id,
        "agent_type": task.agent_type,
        "conversation_id": task.conversation_id,
        "input_message": task.input_message,
        "model": task.model,
        "retry_of": task.retry_of,
        "created_at": wire_time(task.created_at),
    }


class TaskActions:
    def __init__(
        self,
        *,
        unit_of_work: UnitOfWorkFactory,
        tasks: TaskService,
        relay: HandoffRelay,
        engine_queue: str,
        clock: Clock = utc_now,
    ) -> None:
        self._uow = unit_of_work
        self._tasks = tasks
        self._relay = relay
        self._engine_queue = engine_queue
        self._clock = clock

    async def stop_matching(self, query: TaskQuery, max_tasks: int) -> BulkStopReport:
        """Request a stop of every unfinished task the filters match, newest first, at most
        `max_tasks`; each task's outcome is reported."""
        if not 1 <= max_tasks <= MAX_BULK_STOP:
            raise InvalidInput(f"max_tasks must be from 1 to {MAX_BULK_STOP}", field="max_tasks")
        wanted = query.statuses or ACTIVE_STATUSES
        statuses = tuple(status for status in wanted if not status.is_terminal)
        if not statuses:
            return BulkStopReport(results=[], truncated=False)
        # Read the whole batch first: stopping changes the statuses the scan filters on.
        scan = msgspec.structs.replace(query, statuses=statuses, limit=max_tasks + 1, after=None)
        page = await self._tasks.list_tasks(scan)
        targets = page.items[:max_tasks]
        results = [await self._stop(task.task_id) for task in targets]
        return BulkStopReport(results=results, truncated=len(page.items) > max_tasks)

    async def _stop(self, task_id: str) -> StopResult:
        try:
            task = await self._tasks.request_stop(task_id)
        except NotFound:
            return StopResult(task_id=task_id, outcome=StopOutcome.NOT_FOUND, status=None)
        except Conflict:
            current = await self._tasks.get(task_id)
            return StopResult(
                task_id=task_id, outcome=StopOutcome.ALREADY_FINISHED, status=current.status
            )
        outcome = (
            StopOutcome.CANCELLED
            if task.status is TaskStatus.CANCELLED
            else StopOutcome.STOP_REQUESTED
        )
        return StopResult(task_id=task_id, outcome=outcome, status=task.status)

    async def retry(self, task_id: str, new_task_id: str | None = None) -> Task:
        """Run a failed or cancelled task again: a new queued task with the same work, linked
        by `retry_of`, handed to the engine through the outbox. Giving `new_task_id` makes a
        repeated request a 409 instead of a second run."""
        now = self._clock()
        async with self._uow() as uow:
            original = await uow.tasks.get(task_id)
            if original is None:
                raise NotFound(f"task {task_id} does not exist", task_id=task_id)
            if original.status not in RETRYABLE:
                raise Conflict(
                    f"task {task_id} is {original.status.value}; only a failed or cancelled "
                    "task is retried",
                    task_id=task_id,
                    current_status=original.status.value,
                )
            retry = Task(
                task_id=new_task_id or uuid7(),
                status=TaskStatus.QUEUED,
                agent_type=original.agent_type,
                source=original.source,
                created_at=now,
                input_message=original.input_message,
                conversation_id=original.conversation_id,
                model=original.model,
                retry_of=original.task_id,
            )
            announcement = await self._tasks.stage_new(uow, retry)
            await uow.outbox.add(
                OutboxEntry(
                    entry_id=retry.task_id,
                    queue=self._engine_queue,
                    payload=retry_job(retry),
                    created_at=now,
                )
            )
            await uow.commit()
        await self._tasks.announce(announcement)  # logs a failure, never raises
        await self._after_commit()
        return retry

    async def _after_commit(self) -> None:
        # The retry is stored: a failure now must not make the client retry it twice.
        try:
            await self._relay.deliver_pending()
        except Exception:  # the outbox entry stays; the relay loop delivers it
            _log.warning("retry hand-off deferred", exc_info=True)
