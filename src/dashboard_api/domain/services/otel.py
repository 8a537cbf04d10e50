"""OpenTelemetry spans become tasks: usage on a task, its lifecycle, tool calls as output.

- **Which task.** A span's `dashboard.task_id` (on the span or its resource) names its task;
  otherwise every span of a trace reports to one task, `otel-<trace id>`. So a child span that
  arrives before its parent, or in another batch, lands on the same task.
- **Lifecycle.** The task span (an `invoke_agent` span, or the trace's root span) finishes the
  task when it ends: `failed` when its status is ERROR, else `completed`. Any other span only
  makes the task run.
- **Usage.** Each inference span adds its tokens (`otel_spans.usage_of`) and its cost: the price
  table's for its model at the span's start (`cost_source` `computed`, with its breakdown), else
  the cost the span reports (`reported`). The reported cost (`gen_ai.usage.cost.amount` and its
  aliases) is summed into `reported_cost_usd` either way, beside `cost_usd`, which is what
  analytics sum. Its (trace id, span id) is marked in the transaction that adds them, so a span
  sent twice counts once.
- **Tool spans** (`execute_tool`) become `task_output` events with `"kind": "tool_call"`.
- `gen_ai.conversation.id` links the task to that conversation (started when unknown).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from datetime import datetime
from decimal import Decimal
from typing import Any

import msgspec

from dashboard_api.domain.clock import Clock, utc_now
from dashboard_api.domain.errors import Conflict, DomainError, InvalidInput, NotFound
from dashboard_api.domain.limits import ID_CHARS, ID_PATTERN, NAME_CHARS, storable_text
from dashboard_api.domain.model.channels import task_channel
from dashboard_api.domain.model.cost import CostBreakdown, CostSource
from dashboard_api.domain.model.cost import Usage as CostUsage
from dashboard_api.domain.model.engine_reports import (
    MAX_COST_USD,
    MAX_TOKENS,
    EngineReport,
    report_patch,
)
from dashboard_api.domain.model.otel_spans import TASK_ID, Span, Usage, usage_of
from dashboard_api.domain.model.pricing import PriceTable
from dashboard_api.domain.model.tasks import NewTask, Task, TaskPatch, TaskStatus
from dashboard_api.domain.money import usd
from dashboard_api.domain.ports import EventBus, UnitOfWorkFactory
from dashboard_api.domain.services.announcing import publish_once
from dashboard_api.domain.services.conversations import ConversationService, NewConversation
from dashboard_api.domain.services.tasks import ComputedChange, TaskService

_ID = re.compile(ID_PATTERN)


class TaskHint(msgspec.Struct, kw_only=True, frozen=True):
    """What a batch tells of a task beyond one span: its agent's name and when it began."""

    agent: str | None
    start: datetime


class ExportResult(msgspec.Struct, kw_only=True, frozen=True):
    rejected_spans: int
    error_message: str


class OtelIngest:
    def __init__(
        self,
        *,
        tasks: TaskService,
        conversations: ConversationService,
        bus: EventBus,
        unit_of_work: UnitOfWorkFactory,
        prices: PriceTable | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self._tasks = tasks
        self._conversations = conversations
        self._bus = bus
        self._uow = unit_of_work
        self._prices = prices
        self._clock = clock
        # Per task being applied: its lock and how many spans hold or wait for it.
        self._task_locks: dict[str, tuple[asyncio.Lock, int]] = {}

    async def export(self, spans: list[Span]) -> ExportResult:
        """Apply a batch; spans refused one by one are counted, as OTLP's partial success."""
        rejected: list[str] = []
        # The agent that names a task is on its agent span, which ends (and so arrives) last:
        # read it from the whole batch before its children create the task.
        # The same for when it began: its agent span started first.
        hints: dict[str, TaskHint] = {}
        for span in spans:
            with contextlib.suppress(DomainError):
                task_id = _task_id(span)
                hint = hints.get(task_id, TaskHint(agent=None, start=span.start))
                agent = _name(span.attributes.get("gen_ai.agent.name"))
                hints[task_id] = TaskHint(
                    agent=hint.agent or agent, start=min(hint.start, span.start)
                )
        # Children end before their parents: applying by end time finishes a task last.
        tasks: dict[str, list[Span]] = {}
        for span in sorted(spans, key=lambda s: (s.end or s.start, s.start)):
            try:
                tasks.setdefault(_task_id(span), []).append(span)
            except DomainError as exc:
                rejected.append(f"span {span.span_id}: {exc.message}")
        for task_id, task_spans in tasks.items():
            async with self._one_at_a_time(task_id):
                rejected += await self._apply(task_id, task_spans, hints.get(task_id))
        return ExportResult(rejected_spans=len(rejected), error_message="; ".join(rejected)[:1000])

    @contextlib.asynccontextmanager
    async def _one_at_a_time(self, task_id: str) -> AsyncIterator[None]:
        """Spans of one task are applied by one export at a time in this process: concurrent
        exports of one trace would otherwise wait on each other's row lock; across processes
        the lock of the task's row (`TaskService.ingest_computed`) keeps the totals exact."""
        lock, users = self._task_locks.get(task_id, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._task_locks[task_id] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            _, users = self._task_locks[task_id]
            if users == 1:
                del self._task_locks[task_id]
            else:
                self._task_locks[task_id] = (lock, users - 1)

    async def _apply(self, task_id: str, spans: list[Span], hint: TaskHint | None) -> list[str]:
        """Apply a batch's spans of one task, in order: each span's usage adds to the totals
        the previous span left (tokens, cost), its lifecycle moves the task, all in one unit
        of work with the spans' marks (a span sent twice counts once). The reasons of the
        spans refused."""
        refused: list[str] = []
        changes: list[tuple[Span, str, ComputedChange]] = []
        exists = False
        conversations: set[str] = set()
        for span in spans:
            try:
                agent = (
                    _name(span.attributes.get("gen_ai.agent.name"))
                    or (hint.agent if hint else None)
                    or _name(span.resource.get("service.name"))
                )
                if not exists:
                    start = hint.start if hint else span.start
                    await self._ensure_task(task_id, start, agent or "otel", span)
                    exists = True
                conversation = await self._conversation(span, agent or "otel", conversations)
                change = self._change(span, conversation)
            except DomainError as exc:
                refused.append(f"span {span.span_id}: {exc.message}")
                continue
            changes.append((span, f"otel:{span.trace_id}:{span.span_id}", change))
        tools = [span for span, _, _ in changes if span.operation == "execute_tool"]
        if tools:
            await self._tool_outputs(task_id, tools)
        if changes:
            try:
                outcomes = await self._tasks.ingest_computed(
                    task_id, [(event_id, change) for _, event_id, change in changes]
                )
            except DomainError as exc:  # the task is gone (deleted meanwhile)
                return [*refused, *(f"span {span.span_id}: {exc.message}" for span, *_ in changes)]
            for (span, _, _), error in zip(changes, outcomes, strict=True):
                if error is not None:
                    refused.append(f"span {span.span_id}: {error.message}")
        return refused

    def _change(self, span: Span, conversation: str | None) -> ComputedChange:
        """What the span changes on its task as the task is when the span applies."""
        usage = usage_of(span)
        report = self._lifecycle(span, conversation)
        moment = span.end if report.status and report.status.is_terminal else span.start

        def change(current: Task, lifecycle: bool) -> TaskPatch | None:
            # Without its lifecycle when the task finished otherwise: usage still counts.
            told = report if lifecycle else EngineReport(conversation_id=report.conversation_id)
            now = self._clock()
            base = report_patch(current, told, min(moment or now, now))
            changes = {} if base is None else _set_fields(base)
            if usage is not None:
                changes.update(self._usage_changes(current, usage, span.start))
            return TaskPatch(**changes) if changes else None

        return change

    def _lifecycle(self, span: Span, conversation: str | None) -> EngineReport:
        # `dashboard.task_id` only names the task: instrumentations copy it to every span.
        is_task_span = span.operation == "invoke_agent" or span.parent_span_id is None
        if not is_task_span or span.end is None:
            return EngineReport(status=TaskStatus.RUNNING, conversation_id=conversation)
        error = None
        if span.failed:
            kind = span.attributes.get("error.type")
            error = storable_text(
                span.status_message or (kind if isinstance(kind, str) else "error")
            )
        return EngineReport(
            status=TaskStatus.FAILED if span.failed else TaskStatus.COMPLETED,
            error=error,
            conversation_id=conversation,
            duration_seconds=(span.end - span.start).total_seconds(),  # its run, if never seen
        )

    def _usage_changes(self, current: Task, usage: Usage, at: datetime) -> dict[str, Any]:
        changes: dict[str, Any] = {
            "input_tokens": current.input_tokens + usage.input_tokens,
            "output_tokens": current.output_tokens + usage.output_tokens,
            "cache_read_tokens": current.cache_read_tokens + usage.cache_read_tokens,
            "cache_write_tokens": current.cache_write_tokens + usage.cache_write_tokens,
        }
        _check_tokens(changes)  # before pricing them: a quote of 1e300 tokens has no decimal
        if current.model is None and usage.model is not None:
            changes["model"] = usage.model
        reported = None if usage.reported_cost is None else usd(usage.reported_cost)
        if reported is not None:
            changes["reported_cost_usd"] = (current.reported_cost_usd or Decimal(0)) + reported
        quote = self._quote(usage, at)
        if quote is not None and self._prices is not None:
            changes.update(
                cost_usd=current.cost_usd + usd(quote.total),
                price_version=self._prices.version,
                cost_breakdown=_merged(current, quote),
                cost_source=(
                    CostSource.REPORTED
                    if current.cost_source is CostSource.REPORTED
                    else CostSource.COMPUTED
                ),
            )
        elif reported:
            # No price for this span's model: its reported figure stands in, so the task's
            # total is no longer the table's alone.
            changes.update(
                cost_usd=current.cost_usd + reported,
                cost_breakdown=None,
                cost_source=CostSource.REPORTED,
            )
        _check_costs(changes)
        return changes

    def _quote(self, usage: Usage, at: datetime) -> CostBreakdown | None:
        """The price table's cost of this span's tokens on its model, at the span's time
        (each span is one request: a long-context tier applies to it alone)."""
        if self._prices is None or usage.model is None:
            return None
        billed = CostUsage(
            input=usage.input_tokens,
            output=usage.output_tokens,
            cache_read=usage.cache_read_tokens,
            cache_write=usage.cache_write_tokens,
        )
        return self._prices.quote(usage.model, billed, at)

    async def _ensure_task(self, task_id: str, start: datetime, agent: str, span: Span) -> None:
        try:
            await self._tasks.get(task_id)
            return
        except NotFound:
            pass
        new = NewTask(
            task_id=task_id,
            agent_type=agent,
            source="otel",
            created_at=min(start, self._clock()),
            input_message=_text(span.attributes.get("gen_ai.input.messages")) or "",
        )
        with contextlib.suppress(Conflict):  # another span of the task registered it first
            await self._tasks.register(new)

    async def _conversation(self, span: Span, agent: str, known: set[str]) -> str | None:
        """The span's conversation, started when it does not exist yet (`known`: those this
        export found or started already)."""
        conversation_id = span.attributes.get("gen_ai.conversation.id")
        if not isinstance(conversation_id, str) or not _is_id(conversation_id):
            return None
        if conversation_id in known:
            return conversation_id
        try:
            await self._conversations.get(conversation_id)
        except NotFound:
            with contextlib.suppress(Conflict):  # started meanwhile
                await self._conversations.start(
                    NewConversation(agent_type=agent, conversation_id=conversation_id)
                )
        known.add(conversation_id)
        return conversation_id

    async def _tool_outputs(self, task_id: str, spans: list[Span]) -> None:
        """Each tool span's output on `task:{id}`, once (`publish_once`)."""
        channel = task_channel(task_id)
        await publish_once(
            self._uow,
            self._bus,
            self._clock,
            [
                (f"otel-out:{span.trace_id}:{span.span_id}", channel, _tool_event(task_id, span))
                for span in spans
            ],
        )


def _tool_event(task_id: str, span: Span) -> dict[str, Any]:
    result = span.attributes.get("gen_ai.tool.call.result")
    arguments = span.attributes.get("gen_ai.tool.call.arguments")
    return {
        "type": "task_output",
        "task_id": task_id,
        "kind": "tool_call",
        "output": _text(result if result is not None else arguments) or span.name,
        "tool_name": _text(span.attributes.get("gen_ai.tool.name")),
        "tool_use_id": _text(span.attributes.get("gen_ai.tool.call.id")),
        "is_error": span.failed,
    }


# A task's totals stay within what the API accepts of any engine (`MAX_TOKENS` a count,
# `MAX_COST_USD` a cost): a span that would pass them is refused, not stored (the counts are
# 64-bit integers in the database, the costs micro-dollars in one).


def _check_tokens(changes: dict[str, Any]) -> None:
    for name in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens"):
        if changes[name] > MAX_TOKENS:
            raise InvalidInput(f"the task's {name} would pass {MAX_TOKENS}", field=name)


def _check_costs(changes: dict[str, Any]) -> None:
    for name in ("cost_usd", "reported_cost_usd"):
        amount = changes.get(name)
        if amount is not None and amount > MAX_COST_USD:
            raise InvalidInput(f"the task's {name} would pass {MAX_COST_USD}", field=name)


def _task_id(span: Span) -> str:
    named = span.attributes.get(TASK_ID) or span.resource.get(TASK_ID)
    if named is None:
        return f"otel-{span.trace_id}"
    if not isinstance(named, str) or not _is_id(named):
        raise InvalidInput("dashboard.task_id is not a task id", field=TASK_ID)
    return named


def _merged(current: Task, quote: CostBreakdown) -> CostBreakdown | None:
    """The task's breakdown with this span's added: kept while every priced span used the same
    price (pattern and date), so that its parts still add up to `cost_usd`; else none."""
    if current.cost_usd == 0 and current.cost_breakdown is None:
        return quote
    before = current.cost_breakdown
    if (
        before is None
        or before.pattern != quote.pattern
        or before.effective_from != quote.effective_from
    ):
        return None
    parts = {
        name: getattr(before, name) + getattr(quote, name)
        for name in (
            "input",
            "output",
            "reasoning",
            "cache_read",
            "cache_write_5m",
            "cache_write_1h",
        )
    }
    tier = before.tier_above_prompt_tokens
    return msgspec.structs.replace(
        before,
        **parts,
        tier_above_prompt_tokens=tier if tier == quote.tier_above_prompt_tokens else None,
    )


def _set_fields(patch: TaskPatch) -> dict[str, Any]:
    return {
        name: value
        for name in patch.__struct_fields__
        if (value := getattr(patch, name)) is not msgspec.UNSET
    }


def _is_id(value: str) -> bool:
    return len(value) <= ID_CHARS and _ID.match(value) is not None


def _name(value: Any) -> str | None:
    """A short name (agent type, source) as the API accepts one, else None."""
    if isinstance(value, str) and len(value) <= NAME_CHARS and _ID.match(value):
        return value
    return None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else msgspec.json.encode(value).decode()
    return storable_text(text[:1_000_000])
