"""The groote-ai engine's reports, replayed on the memory adapters: one task, whatever the
order and however often each report arrives."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

import msgspec
import pytest

from dashboard_api.adapters.memory import MemoryIngestQueue
from dashboard_api.adapters.memory.origins import MemoryOriginStore
from dashboard_api.adapters.memory.unit_of_work import MemoryUnitOfWork
from dashboard_api.domain.errors import Conflict, NotFound
from dashboard_api.domain.model.engine_reports import EngineReport
from dashboard_api.domain.model.groote_events import HANDLED_TYPES, event_id_of, text_field
from dashboard_api.domain.model.tasks import TaskStatus
from dashboard_api.domain.model.webhooks import WebhookStatus
from dashboard_api.domain.services.conversations import NewConversation
from dashboard_api.domain.services.groote import GrooteBridge
from dashboard_api.domain.services.ingestion import Ingestor
from tests.groote.story import FINAL_OUTPUT, engine_entries, gateway_entries
from tests.unit.world import START, World, build_world

TASK = "task-0123456789ab"


class Rig:
    def __init__(self, batched: bool = True) -> None:
        self.world: World = build_world()
        self.world.clock.advance(minutes=5)  # the stream's times are in the past
        self.origins = MemoryOriginStore()
        self.bridge = GrooteBridge(
            tasks=self.world.tasks,
            webhooks=self.world.webhooks,
            origins=self.origins,
            bus=self.world.bus,
            unit_of_work=lambda: MemoryUnitOfWork(self.world.db),
            clock=self.world.clock,
            wait_seconds=0.5,
        )
        self.queue = MemoryIngestQueue()
        self.ingestor = Ingestor(self.queue, block_ms=10)
        if batched:  # as the service registers it: a read's entries in one run
            self.ingestor.register_batch(HANDLED_TYPES, self.bridge.stream_batch_handler())
        else:  # each entry alone
            for event_type in HANDLED_TYPES:
                self.ingestor.register(event_type, self.bridge.stream_handler())
        self.sequence = 0

    async def deliver(self, *entries: dict[str, str]) -> None:
        """Entries as the stream adapter hands them over: fields, entry id, event id."""
        for entry in entries:
            self.sequence += 1
            event = {**entry, "event_id": event_id_of(entry), "entry_id": f"{self.sequence}-0"}
            await self.queue.add(msgspec.json.encode(event))
        await self.ingestor.process(await self.queue.read(limit=1000, block_ms=10))


@pytest.fixture(params=[True, False], ids=["batched", "one-by-one"])
def rig(request: pytest.FixtureRequest) -> Rig:
    return Rig(batched=request.param)


def outputs(rig: Rig) -> list[dict[str, object]]:
    return [e for e in rig.world.bus.on(f"task:{TASK}") if e["type"] == "task_output"]


async def test_a_replayed_task_completes_with_its_figures_and_live_output(rig: Rig) -> None:
    await rig.deliver(*engine_entries(TASK, START))
    task = await rig.world.tasks.get(TASK)
    assert task.status is TaskStatus.COMPLETED
    assert (task.agent_type, task.source, task.session_id) == ("brain", "github", "sess-1")
    assert task.input_message == "@agent fix the login bug"
    assert task.output == FINAL_OUTPUT
    assert task.cost_usd == Decimal("0.0421")
    assert (task.input_tokens, task.output_tokens) == (12000, 850)
    assert task.created_at == START
    assert task.completed_at == START + timedelta(seconds=9)
    kinds = [event["kind"] for event in outputs(rig)]
    assert kinds == ["thinking", "tool_call", "tool_result", "raw_output", "output"]
    tool_call = outputs(rig)[1]
    assert tool_call["tool_name"] == "Read"
    assert tool_call["tool_use_id"] == "toolu_01"
    assert msgspec.json.decode(str(tool_call["output"])) == {"file_path": "auth/session.py"}
    origin = await rig.origins.origin(TASK)
    assert origin is not None
    assert origin.flow_id == "github:acme/shop#12"
    assert rig.ingestor.rejected == 0


async def test_an_entry_delivered_again_changes_nothing_and_streams_nothing_again(
    rig: Rig,
) -> None:
    entries = engine_entries(TASK, START)
    await rig.deliver(*entries)
    before = await rig.world.tasks.get(TASK)
    published = len(rig.world.bus.published)
    await rig.deliver(*entries)
    assert await rig.world.tasks.get(TASK) == before
    assert len(rig.world.bus.published) == published
    assert len(outputs(rig)) == 5


async def test_the_rest_registration_and_the_stream_meet_on_one_task(rig: Rig) -> None:
    conversation = await rig.world.conversations.start(
        NewConversation(agent_type="brain", title="GitHub: shop#12")
    )
    entries = engine_entries(TASK, START)
    await rig.deliver(*entries[:2])  # created and started, before the worker's POST
    task, created = await rig.bridge.register(
        TASK,
        {
            "input_message": "@agent fix the login bug",
            "source": "github",
            "assigned_agent": "brain",
            "conversation_id": conversation.conversation_id,
        },
        None,
    )
    assert not created
    assert task.conversation_id == conversation.conversation_id
    assert task.status is TaskStatus.RUNNING
    await rig.deliver(*entries[2:])
    linked = await rig.world.conversations.get(conversation.conversation_id)
    assert linked.totals.tasks == 1
    assert linked.totals.cost_usd == Decimal("0.0421")


async def test_a_report_that_outruns_the_stream_waits_for_its_task(rig: Rig) -> None:
    entries = engine_entries(TASK, START)
    report = asyncio.create_task(rig.bridge.report(TASK, EngineReport(status=TaskStatus.RUNNING)))
    await asyncio.sleep(0.1)
    assert not report.done()
    await rig.deliver(entries[0])
    assert (await report).status is TaskStatus.RUNNING


async def test_a_report_for_a_task_that_never_comes_is_a_404(rig: Rig) -> None:
    with pytest.raises(NotFound):
        await rig.bridge.report("task-ffffffffffff", EngineReport(status=TaskStatus.RUNNING))


async def test_the_truncated_rest_output_never_replaces_the_whole_one(rig: Rig) -> None:
    entries = engine_entries(TASK, START)
    await rig.deliver(*entries)
    short = FINAL_OUTPUT[:10]
    task = await rig.bridge.report(
        TASK,
        EngineReport(
            status=TaskStatus.COMPLETED,
            output=short,
            cost_usd=Decimal("0.0421"),
            input_tokens=12000,
            output_tokens=850,
            duration_seconds=9.31,
        ),
    )
    assert task.output == FINAL_OUTPUT
    assert task.version == (await rig.world.tasks.get(TASK)).version


async def test_rest_first_then_stream_keeps_the_whole_output_and_one_cost(rig: Rig) -> None:
    entries = engine_entries(TASK, START)
    await rig.deliver(*entries[:2])
    await rig.bridge.report(
        TASK,
        EngineReport(
            status=TaskStatus.COMPLETED, output=FINAL_OUTPUT[:10], cost_usd=Decimal("0.0421")
        ),
    )
    await rig.deliver(*entries[2:])
    task = await rig.world.tasks.get(TASK)
    assert task.status is TaskStatus.COMPLETED
    assert task.output == FINAL_OUTPUT
    assert task.cost_usd == Decimal("0.0421")
    assert rig.ingestor.rejected == 0


async def test_a_finished_task_refuses_another_ending_over_rest(rig: Rig) -> None:
    await rig.deliver(*engine_entries(TASK, START))
    with pytest.raises(Conflict):
        await rig.bridge.report(TASK, EngineReport(status=TaskStatus.FAILED, error="late"))


async def test_status_notes_start_a_task_but_leave_its_ending_to_the_reports(rig: Rig) -> None:
    await rig.deliver(engine_entries(TASK, START)[0])
    await rig.bridge.status_note(TASK, {"status": "in_progress"})
    assert (await rig.world.tasks.get(TASK)).status is TaskStatus.RUNNING
    await rig.bridge.status_note(TASK, {"status": "completed", "result": {"output": "x"}})
    assert (await rig.world.tasks.get(TASK)).status is TaskStatus.RUNNING
    await rig.bridge.status_note("task-unknown00000", {"status": "in_progress"})


async def test_gateway_events_become_one_processed_webhook_event_with_its_latency(
    rig: Rig,
) -> None:
    await rig.deliver(*gateway_entries("0b5e6c1c-aaaa-4bbb-8ccc-000000000001", TASK, START))
    event = await rig.world.webhooks.event("0b5e6c1c-aaaa-4bbb-8ccc-000000000001")
    assert event.status is WebhookStatus.PROCESSED
    assert (event.webhook_id, event.provider, event.event_type) == (
        "github",
        "github",
        "issue_comment",
    )
    assert event.latency_ms == 180
    assert event.task_id == TASK
    assert event.created_at == START
    stats = await rig.world.webhooks.stats(start=None, end=None)
    assert [(item.webhook_id, item.total) for item in stats.items] == [("github", 1)]


async def test_a_skipped_webhook_keeps_its_reason(rig: Rig) -> None:
    received, *_ = gateway_entries("wh-2", TASK, START)
    skipped = dict(received, type="webhook:skipped", data='{"reason": "bot comment"}')
    await rig.deliver(received, skipped)
    event = await rig.world.webhooks.event("wh-2")
    assert (event.status, event.error) == (WebhookStatus.SKIPPED, "bot comment")


async def test_an_entry_without_its_task_id_is_set_aside(rig: Rig) -> None:
    entry = dict(engine_entries(TASK, START)[0])
    del entry["task_id"]
    entry["data"] = "{}"
    await rig.deliver(entry)
    assert rig.ingestor.rejected == 1
    assert "task_id" in rig.queue.rejected[0][1]


def test_text_a_task_keeps_has_its_nul_replaced() -> None:
    """PostgreSQL text cannot hold a NUL: groote-ai's text (an input, an output, an error)
    is kept with U+FFFD in its place rather than failing its entry for ever."""
    fields = {"content": "done\x00.", "data": {"a": "x\x00"}, "empty": ""}
    assert text_field(fields, "content") == "done\ufffd."
    assert text_field(fields, "data") == '{"a":"x\\u0000"}'  # JSON text escapes it already
    assert text_field(fields, "empty") is None


async def test_a_broken_piece_of_output_is_set_aside_alone_in_a_batched_read() -> None:
    """Pieces of live output of one read go out together: one that cannot be read is
    dead-lettered alone, the others are streamed in their order, once."""
    rig = Rig(batched=True)
    entries = engine_entries(TASK, START)
    broken = {**entries[3], "data": "[not an object]"}  # the thinking piece, unreadable
    await rig.deliver(*entries[:3], broken, *entries[4:])
    kinds = [event["kind"] for event in outputs(rig)]
    assert kinds == ["tool_call", "tool_result", "raw_output", "output"]
    assert rig.ingestor.rejected == 1
    assert (await rig.world.tasks.get(TASK)).status is TaskStatus.COMPLETED
