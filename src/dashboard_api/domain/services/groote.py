"""The groote-ai engine, met where it is: its event stream, status notes and REST reports.

Every way in ends in `TaskService` (lifecycle, rollups, the normalized `task_status` the API
publishes) or `WebhookService`, through `report_patch`, so the three copies of one report
that groote-ai sends converge on one task, in whatever order they arrive.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import msgspec

from dashboard_api.domain.clock import Clock, utc_now
from dashboard_api.domain.errors import Conflict, DomainError, InvalidInput, NotFound
from dashboard_api.domain.json_input import decode_json
from dashboard_api.domain.limits import ID_PATTERN, NAME_CHARS
from dashboard_api.domain.model.channels import task_channel
from dashboard_api.domain.model.engine_reports import EngineReport, cost_of, report_patch, tokens_of
from dashboard_api.domain.model.groote_events import (
    IGNORED_TYPES,
    OUTPUT_TYPES,
    GrooteEntry,
    output_event,
    text_field,
)
from dashboard_api.domain.model.origins import TaskOrigin
from dashboard_api.domain.model.tasks import NewTask, Task, TaskStatus, check_transition
from dashboard_api.domain.model.webhooks import WebhookStatus
from dashboard_api.domain.ports import EventBus, OriginStore, UnitOfWorkFactory
from dashboard_api.domain.services.announcing import publish_once
from dashboard_api.domain.services.ingestion import (
    APPLIED,
    BatchHandler,
    IngestHandler,
    Verdict,
    refused,
)
from dashboard_api.domain.services.tasks import TaskService
from dashboard_api.domain.services.webhooks import NewWebhookEvent, WebhookService

log = logging.getLogger(__name__)

_ID = re.compile(ID_PATTERN)
_RETRIES = 5
_STATUS_OF_NOTE = {"in_progress": TaskStatus.RUNNING, "failed": TaskStatus.FAILED}
# A piece of live output in a read: its place in the read, the entry, its task, its data.
_Piece = tuple[int, GrooteEntry, str, dict[str, Any]]
# What refuses an entry for good (as `Ingestor.register` refuses it): it goes to dead letters.
_REFUSED = (msgspec.DecodeError, msgspec.ValidationError, DomainError)


class GrooteBridge:
    def __init__(
        self,
        *,
        tasks: TaskService,
        webhooks: WebhookService,
        origins: OriginStore,
        bus: EventBus,
        unit_of_work: UnitOfWorkFactory,
        clock: Clock = utc_now,
        default_agent: str = "brain",
        wait_seconds: float = 5.0,
    ) -> None:
        self._tasks = tasks
        self._webhooks = webhooks
        self._origins = origins
        self._bus = bus
        self._uow = unit_of_work
        self._clock = clock
        self._default_agent = default_agent
        self._wait_seconds = wait_seconds

    # -- the event stream -------------------------------------------------------------------

    def stream_handler(self) -> IngestHandler:
        """The ingest handler for every type in `groote_events.HANDLED_TYPES`."""

        async def handle(payload: bytes) -> None:
            entry = decode_json(payload, field="event", type=GrooteEntry)
            if entry.type in IGNORED_TYPES:
                return
            fields = entry.fields()
            if entry.type.startswith("webhook:"):
                await self._webhook(entry, fields)
            elif entry.type in OUTPUT_TYPES:
                await self._output(entry, fields)
            elif entry.type == "task:context_built":
                await self._context_built(entry, fields)
            else:
                await self._lifecycle(entry, fields)

        return handle

    def stream_batch_handler(self) -> BatchHandler:
        """The same, for a read's run of entries: consecutive pieces of live output (thinking,
        tool calls and results, raw output) go out together, their marks read in one
        statement, the pieces not sent yet published in one call, then marked in one (each
        alone cost two transactions and a publish); every other entry is applied as
        `stream_handler` applies it, in stream order. One verdict per entry."""
        handle = self.stream_handler()

        async def apply(payloads: Sequence[bytes]) -> list[Verdict]:
            verdicts: list[Verdict | None] = [None] * len(payloads)
            pieces: list[_Piece] = []

            async def send_pieces() -> None:
                if pieces:
                    await self._live_outputs(pieces)
                    for index, *_ in pieces:
                        verdicts[index] = APPLIED
                    pieces.clear()

            for index, payload in enumerate(payloads):
                try:
                    entry = decode_json(payload, field="event", type=GrooteEntry)
                    piece = None
                    if entry.type in OUTPUT_TYPES and entry.type != "task:output":
                        fields = entry.fields()
                        piece = (index, entry, entry.subject(fields), fields)
                except _REFUSED as exc:
                    verdicts[index] = refused(str(exc))
                    continue
                if piece is not None:
                    pieces.append(piece)
                    continue
                await send_pieces()  # what came before goes out first
                try:
                    await handle(payload)
                except _REFUSED as exc:
                    verdicts[index] = refused(str(exc))
                else:
                    verdicts[index] = APPLIED
            await send_pieces()
            return [verdict or APPLIED for verdict in verdicts]

        return apply

    async def _live_outputs(self, pieces: list[_Piece]) -> None:
        """Pieces of live output, each once (`publish_once`)."""
        await publish_once(
            self._uow,
            self._bus,
            self._clock,
            [
                (entry.event_id, task_channel(task_id), output_event(entry, task_id, fields))
                for _, entry, task_id, fields in pieces
            ],
        )

    async def _lifecycle(self, entry: GrooteEntry, fields: dict[str, Any]) -> None:
        task_id = entry.subject(fields)
        moment = min(entry.moment() or self._clock(), self._clock())
        if entry.type == "task:created":
            await self._upsert(self._new_task(task_id, fields, moment), entry.event_id)
            return
        report = _stream_report(entry.type, fields)
        await self._wait_for(task_id)  # with several replicas, its task:created may be in flight
        await self._settle(task_id, report, moment, event_id=entry.event_id)

    async def _context_built(self, entry: GrooteEntry, fields: dict[str, Any]) -> None:
        task_id = entry.subject(fields)
        await self._keep_origin(task_id, fields.get("flow_id"), fields.get("source_metadata"))
        conversation_id = text_field(fields, "conversation_id", limit=128)
        if conversation_id is not None:
            report = EngineReport(conversation_id=conversation_id)
            await self._settle(task_id, report, self._clock(), event_id=entry.event_id)

    async def _output(self, entry: GrooteEntry, fields: dict[str, Any]) -> None:
        task_id = entry.subject(fields)
        if entry.type != "task:output":  # a piece of live output alone
            await self._live_outputs([(0, entry, task_id, fields)])
            return
        # The final output is streamed, then kept on the task; its processed mark is written
        # on its own: checked first, written once both are done (a crash sends it again).
        async with self._uow() as uow:
            if await uow.processed_events.contains(entry.event_id):
                return
        await self._bus.publish(task_channel(task_id), output_event(entry, task_id, fields))
        output = text_field(fields, "content")
        if output is not None:
            with contextlib.suppress(NotFound):  # output of a task nobody registered
                await self._settle(task_id, EngineReport(output=output), self._clock())
        with contextlib.suppress(Conflict):  # marked meanwhile by another replica
            async with self._uow() as uow:
                await uow.processed_events.add(entry.event_id, self._clock())
                await uow.commit()

    async def _webhook(self, entry: GrooteEntry, fields: dict[str, Any]) -> None:
        event_id = entry.webhook_event_id
        if not event_id or len(event_id) > 128:
            raise InvalidInput("a webhook event needs a webhook_event_id", field="webhook_event_id")
        moment = entry.moment() or self._clock()
        status = WebhookStatus.RECEIVED
        task_id = error = None
        if entry.type == "webhook:validated":
            if fields.get("signature_valid") is not False:
                return
            status, error = WebhookStatus.FAILED, "signature not valid"
        elif entry.type == "webhook:task_created":
            status, task_id = WebhookStatus.PROCESSED, text_field(fields, "task_id", limit=128)
        elif entry.type == "webhook:skipped":
            status = WebhookStatus.SKIPPED
            error = text_field(fields, "reason", limit=10_000)
        try:
            received = await self._webhooks.event(event_id)
        except NotFound:
            received = None
        source = _name(fields.get("source")) or (received.provider if received else "groote")
        latency = None
        if received is not None and status is not WebhookStatus.RECEIVED:
            latency = max(int((moment - received.created_at) / timedelta(milliseconds=1)), 0)
        payload: dict[str, Any] = {
            key: fields[key] for key in ("payload_size", "event_type") if key in fields
        }
        new = NewWebhookEvent(
            event_id=event_id,
            webhook_id=received.webhook_id if received else source,
            provider=received.provider if received else source,
            event_type=text_field(fields, "event_type", limit=128) or entry.type,
            status=status,
            created_at=moment,
            latency_ms=latency,
            task_id=task_id,
            error=error,
            payload=payload or None,
        )
        try:
            await self._webhooks.record_event(new)
        except Conflict as exc:
            if "current_status" not in exc.context:
                raise
            # Already final (a late "received", or a second final report): it stands.

    # -- REST calls and status notes ----------------------------------------------------------

    async def register(
        self, task_id: str, fields: dict[str, Any], origin: TaskOrigin | None
    ) -> tuple[Task, bool]:
        """`POST /api/tasks` as groote-ai sends it: create the task, or fill in the one its
        stream created first. Returns the task and whether this call created it."""
        if origin is not None:
            await self._origins.put_origin(origin)
        return await self._upsert(self._new_task(task_id, fields, self._clock()), None)

    async def report(self, task_id: str, report: EngineReport) -> Task:
        """`PATCH /api/tasks/{id}` as groote-ai sends it. Its stream may not have brought the
        task yet (the stream and REST race): wait for it a few seconds before a 404."""
        await self._wait_for(task_id)
        if report.status is not None:  # an illegal change is a 409, as natively
            check_transition(await self._tasks.get(task_id), report.status)
        return await self._settle(task_id, report, self._clock())

    async def status_note(self, task_id: str, note: dict[str, Any]) -> None:
        """A `task:{id}:status` note. Only `in_progress` and `failed` are applied: its
        `completed` is sent before the engine checks the output and may turn it into a
        failure, so the stream's and the REST report's final status is the one kept."""
        status = _STATUS_OF_NOTE.get(str(note.get("status")))
        if status is None:
            return
        result = note.get("result")
        error = text_field(result, "error") if isinstance(result, dict) else None
        with contextlib.suppress(NotFound):  # a note alone cannot create a task
            await self._settle(task_id, EngineReport(status=status, error=error), self._clock())

    async def keep_origin(self, origin: TaskOrigin) -> TaskOrigin:
        return await self._origins.put_origin(origin)

    async def origin(self, task_id: str) -> TaskOrigin:
        origin = await self._origins.origin(task_id)
        if origin is None:
            raise NotFound(f"no engine said where task {task_id} came from", task_id=task_id)
        return origin

    # -- shared -----------------------------------------------------------------------------

    def _new_task(self, task_id: str, fields: dict[str, Any], moment: datetime) -> NewTask:
        agent = _name(fields.get("assigned_agent"))
        return NewTask(
            task_id=task_id,
            agent_type=agent or self._default_agent,
            input_message=text_field(fields, "input_message") or "",
            source=_name(fields.get("source")) or "groote",
            assigned_agent=agent,
            session_id=text_field(fields, "session_id", limit=128),
            conversation_id=text_field(fields, "conversation_id", limit=128),
            created_at=min(moment, self._clock()),
        )

    async def _upsert(self, new: NewTask, event_id: str | None) -> tuple[Task, bool]:
        assert new.task_id is not None
        for _ in range(_RETRIES):
            try:
                await self._tasks.get(new.task_id)
            except NotFound:
                try:
                    if event_id is None:
                        return await self._tasks.register(new), True
                    created = await self._tasks.ingest(event_id, new)
                    return created or await self._tasks.get(new.task_id), created is not None
                except Conflict:
                    continue  # created meanwhile by another report: fill it in instead
            report = EngineReport(
                session_id=new.session_id,
                conversation_id=new.conversation_id,
                assigned_agent=new.assigned_agent,
            )
            return await self._settle(new.task_id, report, self._clock(), event_id), False
        raise Conflict(f"task {new.task_id} kept changing; retry", task_id=new.task_id)

    async def _settle(
        self,
        task_id: str,
        report: EngineReport,
        moment: datetime,
        event_id: str | None = None,
    ) -> Task:
        """Apply `report` to the task as it is now, again if it changed meanwhile."""
        for _ in range(_RETRIES):
            current = await self._tasks.get(task_id)
            patch = report_patch(current, report, moment)
            if patch is None:
                return current
            try:
                if event_id is None:
                    return await self._tasks.update(
                        task_id, patch, expected_version=current.version
                    )
                return (
                    await self._tasks.ingest(
                        event_id, (task_id, patch), expected_version=current.version
                    )
                    or current
                )
            except Conflict as exc:
                if "current_status" in exc.context:
                    return await self._tasks.get(task_id)  # finished meanwhile: it stands
        raise Conflict(f"task {task_id} kept changing; retry", task_id=task_id)

    async def _keep_origin(self, task_id: str, flow_id: Any, metadata: Any) -> None:
        flow = flow_id if isinstance(flow_id, str) and 0 < len(flow_id) <= 256 else None
        meta = metadata if isinstance(metadata, dict) else None
        if flow is not None or meta is not None:
            await self._origins.put_origin(
                TaskOrigin(task_id=task_id, flow_id=flow, source_metadata=meta)
            )

    async def _wait_for(self, task_id: str) -> None:
        deadline = asyncio.get_running_loop().time() + self._wait_seconds
        while True:
            try:
                await self._tasks.get(task_id)
                return
            except NotFound:
                if asyncio.get_running_loop().time() >= deadline:
                    raise
                await asyncio.sleep(0.05)


def _stream_report(event_type: str, fields: dict[str, Any]) -> EngineReport:
    session = text_field(fields, "session_id", limit=128)
    conversation = text_field(fields, "conversation_id", limit=128)
    if event_type == "task:started":
        return EngineReport(
            status=TaskStatus.RUNNING, session_id=session, conversation_id=conversation
        )
    if event_type == "task:failed":
        return EngineReport(status=TaskStatus.FAILED, error=text_field(fields, "error"))
    failed = fields.get("status") == "failed"
    return EngineReport(
        status=TaskStatus.FAILED if failed else TaskStatus.COMPLETED,
        output=text_field(fields, "result"),
        error=text_field(fields, "error"),
        cost_usd=cost_of(fields.get("cost_usd")),
        input_tokens=tokens_of(fields.get("input_tokens"), field="input_tokens"),
        output_tokens=tokens_of(fields.get("output_tokens"), field="output_tokens"),
        duration_seconds=_seconds(fields.get("duration_seconds")),
        session_id=session,
        conversation_id=conversation,
    )


def _seconds(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    return None


def _name(value: Any) -> str | None:
    """A short name (agent type, source) as the API accepts one, else None."""
    if isinstance(value, str) and len(value) <= NAME_CHARS and _ID.match(value):
        return value
    return None
