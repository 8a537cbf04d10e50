"""Use cases of tasks: register, change, stop, list. Events go out after the change commits."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

import msgspec

from dashboard_api.domain.clock import Clock, utc_now
from dashboard_api.domain.errors import Conflict, DomainError, InvalidInput, NotFound
from dashboard_api.domain.ids import uuid7
from dashboard_api.domain.limits import check_id
from dashboard_api.domain.model.channels import (
    ENGINE_COMMANDS_CHANNEL,
    TASKS_CHANNEL,
    Event,
    status_frame,
    task_channel,
    wire_time,
)
from dashboard_api.domain.model.conversations import ConversationTotals, totals_delta
from dashboard_api.domain.model.pricing import PriceTable, priced
from dashboard_api.domain.model.rollups import moved_changes, rollup_changes
from dashboard_api.domain.model.tasks import (
    UNSET,
    AgentActivity,
    NewTask,
    Task,
    TaskCounts,
    TaskCursor,
    TaskPatch,
    TaskQuery,
    TaskStatus,
    TaskSummary,
    TaskView,
    check_times,
    check_transition,
)
from dashboard_api.domain.money import usd
from dashboard_api.domain.pagination import Page
from dashboard_api.domain.ports import EventBus, TaskStore, UnitOfWork, UnitOfWorkFactory
from dashboard_api.domain.services.announcing import Announcement, Announcer
from dashboard_api.domain.services.ingestion import (
    APPLIED,
    BatchOutcome,
    Verdict,
    refused,
    waiting,
)
from dashboard_api.domain.services.spend import record_task_spend, record_tasks_spend

if TYPE_CHECKING:
    from dashboard_api.domain.ports import UnitOfWork


_log = logging.getLogger(__name__)


_NEW_TASK_STATUSES = frozenset({TaskStatus.QUEUED, TaskStatus.RUNNING})


# An engine event's change computed from its task as it is when the event applies: the task,
# and whether the change may set the status (False once the task finished otherwise); None
# when the event changes nothing. Pure: it may be called twice.
ComputedChange = Callable[[Task, bool], TaskPatch | None]


def _announcements(steps: Sequence[Task]) -> list[tuple[str, Event]]:
    """Each change's `task_status` on `task:{id}` and `tasks`: a `StatusEvent`, the JSON of
    `status_event` without its dict (ingest batches and REST changes alike)."""
    events: list[tuple[str, Event]] = []
    for task in steps:
        event = status_frame(task)
        events += [(task_channel(task.task_id), event), (TASKS_CHANNEL, event)]
    return events


def _task_id_of(change: NewTask | tuple[str, TaskPatch]) -> str:
    return (change.task_id or "") if isinstance(change, NewTask) else change[0]


class TaskService:
    def __init__(
        self,
        *,
        unit_of_work: UnitOfWorkFactory,
        reads: TaskStore,
        bus: EventBus,
        clock: Clock = utc_now,
        configured_agents: Sequence[str] = (),
        prices: PriceTable | None = None,
        outbox: str = "dashboard:ingest:announcing",
        announcer: Announcer | None = None,
    ) -> None:
        self._prices = prices
        # Where an ingest batch's announcements wait between its commit and their publish.
        self._outbox = outbox
        # Where a REST change's announcements wait between its commit and their publish.
        self.announcer = announcer or Announcer(unit_of_work=unit_of_work, bus=bus, clock=clock)
        self._uow = unit_of_work
        self._reads = reads
        self._bus = bus
        self._clock = clock
        self._configured_agents = tuple(configured_agents)

    async def get(self, task_id: str) -> Task:
        task = await self._reads.get(task_id)
        if task is None:
            raise NotFound(f"task {task_id} does not exist", task_id=task_id)
        return task

    async def view(self, task_id: str) -> TaskView:
        """The task as a read of one shows it (`TaskView`); `NotFound` as `get`."""
        view = await self._reads.get_view(task_id)
        if view is None:
            raise NotFound(f"task {task_id} does not exist", task_id=task_id)
        return view

    async def list_tasks(self, query: TaskQuery) -> Page[TaskSummary]:
        rows = await self._reads.find(msgspec.structs.replace(query, limit=query.limit + 1))
        return Page.from_rows(
            rows, query.limit, lambda last: TaskCursor(last.created_at, last.task_id)
        )

    async def register(self, new: NewTask) -> Task:
        task = self._new_task(new)
        async with self._uow() as uow:
            await self._store_new(uow, task)
            announcement = await self._stage(uow, task)
            await uow.commit()
        await self.announce(announcement)
        return task

    async def forget_processed_events(self, older_than: timedelta) -> int:
        """Retention of the processed-event marks: an engine retry older than this is new again."""
        async with self._uow() as uow:
            forgotten = await uow.processed_events.forget_before(self._clock() - older_than)
            await uow.commit()
        return forgotten

    async def ingest(
        self,
        event_id: str,
        change: NewTask | tuple[str, TaskPatch],
        *,
        expected_version: int | None = None,
    ) -> Task | None:
        """Apply an engine event exactly once: the change and the event's processed mark commit
        together, so a redelivered event changes nothing (and returns None). A patch its caller
        computed from a task it read (a running total, say) names that task's version: if the
        task changed since, `Conflict` (nothing written), and the caller reads it again."""
        async with self._uow() as uow:
            if await uow.processed_events.contains(event_id):
                return None
            if isinstance(change, NewTask):
                task = self._new_task(change)
                await self._store_new(uow, task)
            else:
                task_id, patch = change
                current = await self._current(uow, task_id, expected_version)
                task = self._apply(current, patch)
                if task != current:
                    await self._store_change(uow, current, task)
            await uow.processed_events.add(event_id, self._clock())
            announcement = await self._stage(uow, task, mark=event_id)
            await uow.commit()
        await self.announce(announcement)
        return task

    async def ingest_computed(
        self, task_id: str, events: Sequence[tuple[str, ComputedChange]]
    ) -> list[DomainError | None]:
        """Apply events to one task in order, in one unit of work, each change computed from
        the task as the previous event left it (running totals: `ComputedChange`). The task's
        row is locked for the unit (a concurrent writer waits), the events' marks are claimed
        first: an event applied before changes nothing, an event refused (its error returned
        in its place, its mark released) changes nothing either. The changes, their rollup
        deltas and the marks commit together; each step is announced after the commit."""
        now = self._clock()
        results: list[DomainError | None] = []
        steps: list[Task] = []
        async with self._uow() as uow:
            claimed = await uow.processed_events.claim([event_id for event_id, _ in events], now)
            stored = (await uow.tasks.get_many([task_id])).get(task_id)
            if stored is None:
                raise NotFound(f"task {task_id} does not exist", task_id=task_id)
            latest = stored
            marked: list[str] = []
            done: set[str] = set()
            for event_id, compute in events:
                if event_id not in claimed or event_id in done:
                    results.append(None)  # applied before (or earlier in this batch)
                    continue
                done.add(event_id)
                try:
                    task = self._computed(latest, compute)
                except DomainError as exc:
                    results.append(exc)
                    continue
                results.append(None)
                if task is not latest:
                    marked.append(event_id)
                    steps.append(task)
                    latest = task
            # Marks of events that changed nothing or were refused are not kept.
            unmarked = claimed.difference(marked)
            if unmarked:
                await uow.processed_events.release(list(unmarked))
            if not steps:
                await uow.commit()
                return results
            await self._store_batch(uow, {task_id: stored}, {task_id: latest})
            announcement = await self.announcer.stage(
                uow, task_id, _announcements(steps), mark=marked[0]
            )
            await uow.commit()
        await self.announce(announcement)
        return results

    def _computed(self, task: Task, compute: ComputedChange) -> Task:
        """The task after `compute`'s change; when that change's status no longer applies (the
        task finished meanwhile), its change without the status, computed again."""
        patch = compute(task, True)
        if patch is None:
            return task
        try:
            return self._apply(task, patch)
        except Conflict as exc:
            if "current_status" not in exc.context:
                raise
        again = compute(task, False)
        return task if again is None else self._apply(task, again)

    async def ingest_batch(
        self, events: Sequence[tuple[str, NewTask | tuple[str, TaskPatch]]]
    ) -> list[Verdict]:
        """Apply engine events in order in one unit of work: the changes, their rollup deltas
        and the events' processed marks commit together. One verdict per event: applied (or
        applied before: a redelivery changes nothing), refused (it can never apply), or
        waiting (its task does not exist yet; so do the task's later events in the batch).
        Raises, with nothing committed, when the batch cannot be applied now. The changes are
        announced before it returns, after what an earlier batch left unannounced."""
        await self.announce_left_over()
        verdicts, announce = await self.apply_batch(events)
        if announce is not None:
            await announce()
        return verdicts

    async def apply_batch(
        self, events: Sequence[tuple[str, NewTask | tuple[str, TaskPatch]]]
    ) -> BatchOutcome:
        """`ingest_batch` up to its commit: the verdicts, and what announces the batch's
        changes (staged with the commit), for the caller to run after the commit (the ingestor
        runs it while it applies the next batch). The caller runs `announce_left_over` when
        such a call was never made or failed."""
        verdicts: list[Verdict] = []
        steps: list[Task] = []  # each applied change, announced in order after the commit
        async with self._uow() as uow:
            # The marks are claimed first (one statement instead of a read and an insert);
            # those of events that end up waiting or refused are released below, in this
            # transaction, so only what the batch applied stays marked.
            event_ids = [event_id for event_id, _ in events]
            claimed = await uow.processed_events.claim(event_ids, self._clock())
            seen = set(event_ids) - claimed
            found = await uow.tasks.get_many([_task_id_of(change) for _, change in events])
            stored: dict[str, Task | None] = {}  # as the batch found them
            latest: dict[str, Task | None] = {}
            held: set[str] = set()
            marked: list[str] = []
            for event_id, change in events:
                task_id = _task_id_of(change)
                if event_id in seen:
                    verdicts.append(APPLIED)
                    continue
                if not task_id:
                    verdicts.append(refused("an ingested task needs its task_id"))
                    continue
                if task_id not in latest:
                    latest[task_id] = stored[task_id] = found.get(task_id)
                current = latest[task_id]
                if not isinstance(change, NewTask) and (current is None or task_id in held):
                    held.add(task_id)
                    verdicts.append(waiting(f"task {task_id} does not exist yet"))
                    continue
                try:
                    task = self._ingested(current, change)
                except DomainError as exc:
                    verdicts.append(refused(str(exc)))
                    continue
                latest[task_id] = task
                seen.add(event_id)
                marked.append(event_id)
                if task is not current:
                    steps.append(task)
                verdicts.append(APPLIED)
            token = marked[0] if steps else None  # committed with the batch: its mark
            # The announcements are staged while the batch's rows are written (their round
            # trips overlap), and the commit waits for the stage: a failed stage rolls the
            # batch back, as a failed write does.
            staging = None
            if token is not None:
                staging = asyncio.create_task(
                    self._bus.stage(self._outbox, token, _announcements(steps))
                )
            try:
                await self._store_batch(uow, stored, latest)
                unmarked = claimed.difference(marked)
                if unmarked:
                    await uow.processed_events.release(list(unmarked))
            except BaseException:
                if staging is not None:  # not committed: what it staged is dropped
                    await asyncio.wait([staging])
                    if not staging.cancelled():
                        staging.exception()
                    await self._drop_stage(token)
                raise
            if staging is not None:
                await staging
            await uow.commit()
        return BatchOutcome(
            verdicts, functools.partial(self._announce_steps, token) if token else None
        )

    async def _drop_stage(self, token: str | None) -> None:
        """Drop what a batch that failed before its commit staged (the ingestor may apply the
        same events again at once, one by one, to find one the database refuses). If Redis
        fails here, recovery drops it at the next pass (its token has no mark), and a new
        stage under the same token replaces it."""
        if token is None:
            return
        try:
            await self._bus.drop_staged(self._outbox, token)
        except Exception as exc:
            _log.warning("a failed batch's stage is left to recovery: %s", exc)

    async def _announce_steps(self, token: str) -> None:
        """Every change of the batch, each on `task:{id}` and `tasks`, staged before the
        commit and published after it (on Redis one script call per chunk; one per publish
        cost more CPU than applying the batch), in the batch's order, so each task's changes
        keep theirs. If the publish fails, it raises: `announce_left_over` publishes what is
        left before anything else (a process that died here leaves it to whoever applies
        next). Never lost, never twice: no silent gap."""
        await self._bus.publish_staged(self._outbox, token)

    async def announce_left_over(self) -> None:
        """Announcements staged by a batch whose process died (or whose publish or commit
        failed) before they were published: published if the batch committed (its token is
        an event id marked with it), dropped if not, oldest first. One read of the outbox when
        it is empty. Call it only while none of this process's batches is between its commit
        and its announcement (the ingestor: at the start of a pass over pending entries)."""
        tokens = await self._bus.staged(self._outbox)
        if not tokens:
            return
        async with self._uow() as uow:
            committed = await uow.processed_events.seen(tokens)
        for token in tokens:
            if token in committed:
                _log.info("publishing the announcements left over by batch %s", token)
                await self._bus.publish_staged(self._outbox, token)
            else:
                await self._bus.drop_staged(self._outbox, token)

    def _ingested(self, current: Task | None, change: NewTask | tuple[str, TaskPatch]) -> Task:
        if isinstance(change, NewTask):
            if current is not None:
                raise Conflict(f"task {current.task_id} already exists", task_id=current.task_id)
            return self._new_task(change)
        assert current is not None
        return self._apply(current, change[1])

    async def _store_batch(
        self, uow: UnitOfWork, stored: dict[str, Task | None], latest: dict[str, Task | None]
    ) -> None:
        """One write per table for the whole batch, from what the batch found to what it made
        of it: the deltas of a task's consecutive changes add up to the delta of the whole, and
        the deltas of the batch's tasks add up per rollup row, conversation and spend key.
        Statements per batch no longer grow with its size (bench/ingest_profile.py)."""
        moves: list[tuple[Task | None, Task]] = []
        for task_id, after in latest.items():
            before = stored[task_id]
            if after is not None and after is not before:
                # get_many locked the rows it found: `before` is still what is stored.
                moves.append((before, after))
        await uow.tasks.save_many(
            [after for before, after in moves if before is None],
            [after for before, after in moves if before is not None],
        )
        await uow.rollups.record(moved_changes(moves))
        await record_tasks_in_conversations(uow, moves)
        await record_tasks_spend(uow, moves)

    def _new_task(self, new: NewTask) -> Task:
        if new.status not in _NEW_TASK_STATUSES:
            raise InvalidInput("a new task is queued or running", field="status")
        check_id(new.task_id, "task_id")
        check_id(new.conversation_id, "conversation_id")
        now = self._clock()
        created_at = new.created_at or now
        if created_at > now:
            raise InvalidInput("created_at is in the future", field="created_at")
        return Task(
            task_id=new.task_id or uuid7(),
            status=new.status,
            agent_type=new.agent_type,
            source=new.source,
            created_at=created_at,
            input_message=new.input_message,
            assigned_agent=new.assigned_agent,
            session_id=new.session_id,
            conversation_id=new.conversation_id,
            model=new.model,
            started_at=now if new.status is TaskStatus.RUNNING else None,
        )

    async def update(
        self, task_id: str, patch: TaskPatch, *, expected_version: int | None = None
    ) -> Task:
        """Apply `patch`; with `expected_version`, only to that version of the task (else
        `Conflict`, as `ingest`)."""
        async with self._uow() as uow:
            current = await self._current(uow, task_id, expected_version)
            changed = self._apply(current, patch)
            if changed == current:
                return current
            await self._store_change(uow, current, changed)
            announcement = await self._stage(uow, changed)
            await uow.commit()
        await self.announce(announcement)
        return changed

    @staticmethod
    async def _current(uow: UnitOfWork, task_id: str, expected_version: int | None) -> Task:
        """The task as stored, in this unit of work (whose write checks that it is still the
        stored version); `Conflict` when it is no longer the version the caller computed from."""
        current = await uow.tasks.get(task_id)
        if current is None:
            raise NotFound(f"task {task_id} does not exist", task_id=task_id)
        if expected_version is not None and current.version != expected_version:
            raise Conflict(
                f"task {task_id} changed while this change was computed; retry it",
                task_id=task_id,
            )
        return current

    async def request_stop(self, task_id: str) -> Task:
        """Ask the engine to stop a task. A task nobody has started is cancelled at once."""
        task = await self.get(task_id)
        if task.status.is_terminal:
            raise Conflict(
                f"task {task_id} is already {task.status.value}; there is nothing to stop",
                task_id=task_id,
                current_status=task.status.value,
            )
        if task.status is TaskStatus.QUEUED:
            try:
                task = await self.update(task_id, TaskPatch(status=TaskStatus.CANCELLED))
            except Conflict:
                task = await self.get(task_id)  # it started meanwhile: the engine must stop it
        command = {
            "type": "stop_requested",
            "task_id": task_id,
            "requested_at": wire_time(self._clock()),
        }
        await self._bus.publish_many(
            [(task_channel(task_id), command), (ENGINE_COMMANDS_CHANNEL, command)]
        )
        return task

    async def agents(self) -> list[AgentActivity]:
        seen = {agent.agent_type: agent for agent in await self._reads.agent_activity()}
        for name in self._configured_agents:
            seen.setdefault(
                name, AgentActivity(agent_type=name, queued=0, running=0, last_activity_at=None)
            )
        return sorted(seen.values(), key=lambda agent: agent.agent_type)

    async def counts(self) -> TaskCounts:
        return await self._reads.active_counts()

    def _apply(self, task: Task, patch: TaskPatch) -> Task:
        changes = {
            field: value
            for field, value in zip(
                patch.__struct_fields__, msgspec.structs.astuple(patch), strict=True
            )
            if value is not UNSET
        }
        for money in ("cost_usd", "reported_cost_usd"):
            if changes.get(money) is not None:
                changes[money] = usd(changes[money])
        linked = changes.get("conversation_id", task.conversation_id)
        if task.conversation_id is not None and linked != task.conversation_id:
            raise InvalidInput("a task's conversation cannot change", field="conversation_id")
        new_status = changes.get("status", task.status)
        check_transition(task, new_status)
        if task.status.is_terminal:
            # A finished task keeps its timeline; only its figures may still be corrected.
            changes.pop("started_at", None)
            changes.pop("completed_at", None)
        now = self._clock()
        started_at = changes.get("started_at", task.started_at)
        if new_status is TaskStatus.RUNNING and started_at is None:
            changes["started_at"] = now
        if new_status.is_terminal and changes.get("completed_at", task.completed_at) is None:
            changes["completed_at"] = now
        if not new_status.is_terminal and "completed_at" in changes:
            raise InvalidInput("only a finished task has completed_at", field="completed_at")
        after = msgspec.structs.replace(task, **changes)
        # A patch that names its cost's source was priced by its caller: kept as given.
        changed = (
            after
            if "cost_source" in changes
            else priced(task, after, self._prices, "cost_usd" in changes)
        )
        if changed == task:
            return task
        check_times(changed)
        return msgspec.structs.replace(changed, version=task.version + 1)

    # The only two places that write tasks: whatever must change in the same transaction as a
    # task (derived figures, processed-event marks) is recorded here.
    async def _store_new(self, uow: UnitOfWork, task: Task) -> None:
        await uow.tasks.add(task)
        await uow.rollups.record(rollup_changes(None, task))
        await record_task_in_conversation(uow, None, task)
        await record_task_spend(uow, None, task)

    async def _store_change(self, uow: UnitOfWork, before: Task, after: Task) -> None:
        if not await uow.tasks.replace(after, expected_version=before.version):
            raise Conflict(
                f"task {before.task_id} changed while this update was applied; retry it",
                task_id=before.task_id,
            )
        # The replace above proved `before` is what was stored, so moving its contribution
        # to `after` can never count a task twice.
        await uow.rollups.record(rollup_changes(before, after))
        await record_task_in_conversation(uow, before, after)
        await record_task_spend(uow, before, after)

    async def stage_new(
        self, uow: UnitOfWork, task: Task, *, with_events: Sequence[tuple[str, Event]] = ()
    ) -> Announcement:
        """Write a new task inside a caller's unit of work (a message and its task together)
        and stage its announcement, after `with_events` (the message's); the caller commits,
        then calls `announce` with it."""
        await self._store_new(uow, task)
        events = [*with_events, *_announcements([task])]
        return await self.announcer.stage(uow, task.task_id, events)

    async def store_past(self, uow: UnitOfWork, task: Task) -> None:
        """Write a task of the past (the demo's history) inside a caller's unit of work: no
        live announcement."""
        await self._store_new(uow, task)

    async def _stage(self, uow: UnitOfWork, task: Task, *, mark: str | None = None) -> Announcement:
        """Stage the change's `task_status` (on `task:{id}` and `tasks`) with its commit."""
        return await self.announcer.stage(uow, task.task_id, _announcements([task]), mark=mark)

    async def announce(self, announcement: Announcement) -> None:
        """Publish a committed change's announcement (`Announcer.announce`): never raises."""
        await self.announcer.announce(announcement)


async def record_task_in_conversation(uow: UnitOfWork, before: Task | None, after: Task) -> None:
    """Keep the task's conversation totals exact, in the transaction that writes the task."""
    await record_tasks_in_conversations(uow, [(before, after)])


async def record_tasks_in_conversations(
    uow: UnitOfWork, moves: Sequence[tuple[Task | None, Task]]
) -> None:
    """Keep the conversation totals exact for tasks moving from `before` to `after` (an ingest
    batch): the deltas summed per conversation, written at once in conversation order."""
    deltas: dict[str, ConversationTotals] = {}
    for before, after in moves:
        delta = totals_delta(before, after)
        if after.conversation_id is not None and not delta.is_zero:
            summed = deltas.get(after.conversation_id, ConversationTotals()) + delta
            deltas[after.conversation_id] = summed
    changes = {key: deltas[key] for key in sorted(deltas) if not deltas[key].is_zero}
    if changes:
        await uow.conversations.add_totals_many(changes)
