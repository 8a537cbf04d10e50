"""A simulated agent engine for `dashboard-api demo`.

It drives the service through the same doors a real engine uses, so the demo shows the real
path end to end:
- it runs tasks of its own (`task.created`, live output, `task.completed`/`task.failed` through
  `EnginePublisher`);
- it consumes the hand-off queue (`DASHBOARD_ENGINE_QUEUE`: a Redis Stream read with a consumer
  group, or the in-process bus channel of that name) and answers each chat message: the task's
  output streams live, then the answer is posted to the conversation as an assistant message;
- it picks up tasks registered over REST (`POST /api/tasks`), seen on the `tasks` channel;
- it honours stop requests (`engine:commands`) by cancelling the task.
Before it starts, `backfill` writes 30 days of history (see demo_history.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from collections.abc import Awaitable
from decimal import Decimal
from typing import Any

import msgspec

from dashboard_api.domain.clock import Clock, utc_now
from dashboard_api.domain.errors import DomainError
from dashboard_api.domain.model.channels import ENGINE_COMMANDS_CHANNEL, TASKS_CHANNEL
from dashboard_api.domain.model.conversations import MessageRole
from dashboard_api.domain.ports import EventBus, OAuthStatusStore, UnitOfWorkFactory
from dashboard_api.domain.services.conversations import ConversationService, NewMessage
from dashboard_api.domain.services.tasks import TaskService
from dashboard_api.engine import EnginePublisher

_log = logging.getLogger(__name__)

AGENTS = ("planner", "coder", "reviewer", "triager")
MODELS = ("claude-sonnet-4", "claude-haiku-4")
PROMPTS = (
    "Summarise the failing CI run on main",
    "Add pagination to the invoices endpoint",
    "Review the pull request that touches the billing service",
    "Triage the Sentry error spike from the last hour",
)
STEPS = (
    "Reading the request and the files it mentions.",
    "Reproducing the problem with a focused test.",
    "Making the smallest change that passes it.",
    "Running the whole suite: all green.",
    "Writing a short summary for the team.",
)


class DemoEngine:
    """The demo's engine; `run` until cancelled."""

    def __init__(
        self,
        *,
        publisher: EnginePublisher,
        bus: EventBus,
        tasks: TaskService,
        conversations: ConversationService,
        unit_of_work: UnitOfWorkFactory,
        oauth: OAuthStatusStore,
        engine_queue: str,
        redis_url: str | None = None,
        clock: Clock = utc_now,
        words_per_second: float = 15,
        concurrent: int = 2,
    ) -> None:
        self._publisher = publisher
        self._bus = bus
        self._tasks = tasks
        self._conversations = conversations
        self._uow = unit_of_work
        self._oauth = oauth
        self._engine_queue = engine_queue
        self._redis_url = redis_url
        self._clock = clock
        self._delay = 1 / words_per_second
        self._concurrent = concurrent
        self._rng = random.Random()
        self._claimed: set[str] = set()  # tasks this engine runs (or ran): never twice
        self._stop_requested: set[str] = set()
        self._running: set[asyncio.Task[None]] = set()

    async def backfill(self) -> int:
        """Write the demo's 30 days of history (once per database); returns tasks written."""
        from dashboard_api.adapters.demo.history import backfill_history

        return await backfill_history(
            unit_of_work=self._uow, tasks=self._tasks, oauth=self._oauth, now=self._clock()
        )

    async def run(self) -> None:
        inbox: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
        feed = await self._bus.open_feed(
            lambda channel, message: inbox.put_nowait((channel, message)), lambda _: None
        )
        channels = [TASKS_CHANNEL, ENGINE_COMMANDS_CHANNEL]
        if self._redis_url is None:
            channels.append(self._engine_queue)  # the in-process hand-off queue is a bus channel
        for channel in channels:
            await feed.subscribe(channel)
        loops = [self._own_tasks() for _ in range(self._concurrent)]
        loops.append(self._listen(inbox))
        if self._redis_url is not None:
            loops.append(self._consume_stream(self._redis_url))
        try:
            await asyncio.gather(*loops)
        finally:
            for running in self._running:
                running.cancel()
            await feed.close()

    async def _own_tasks(self) -> None:
        while True:
            task_id = f"demo-{uuid.uuid4().hex[:12]}"
            self._claimed.add(task_id)
            agent = self._rng.choice(AGENTS)
            await self._publisher.lifecycle(
                "task.created",
                task_id,
                agent_type=agent,
                model=self._rng.choice(MODELS),
                input_message=self._rng.choice(PROMPTS),
                source=self._rng.choice(("dashboard", "github", "slack", "jira")),
            )
            await asyncio.sleep(0.3)
            await self._work(task_id, agent)
            await asyncio.sleep(self._rng.uniform(0.5, 2.0))

    async def _listen(self, inbox: asyncio.Queue[tuple[str, bytes]]) -> None:
        while True:
            channel, message = await inbox.get()
            try:
                event: dict[str, Any] = msgspec.json.decode(message)
            except msgspec.DecodeError:
                continue
            if channel == ENGINE_COMMANDS_CHANNEL and event.get("type") == "stop_requested":
                self._stop_requested.add(str(event.get("task_id")))
            elif channel == TASKS_CHANNEL:
                await self._maybe_pick_up(event)
            elif channel == self._engine_queue:
                self._start(self._answer(event))

    async def _maybe_pick_up(self, event: dict[str, Any]) -> None:
        """A task registered over REST is queued with nobody to run it: this engine takes it.
        A chat message's task comes on the hand-off queue instead, and is left to that."""
        task_id = str(event.get("task_id"))
        if event.get("status") != "queued" or task_id in self._claimed:
            return
        try:
            task = await self._tasks.get(task_id)
        except DomainError:
            return
        if task.conversation_id is not None:
            return
        self._claimed.add(task_id)
        self._start(self._work(task_id, task.agent_type, prompt=task.input_message))

    async def _consume_stream(self, redis_url: str) -> None:
        """Read the hand-off Stream as a real engine does: a consumer group, ack after use."""
        from redis.asyncio import Redis
        from redis.exceptions import ResponseError

        redis = Redis.from_url(redis_url)
        group, stream = "demo-engine", self._engine_queue
        try:
            with contextlib.suppress(ResponseError):  # BUSYGROUP: it exists already
                await redis.xgroup_create(stream, group, id="0", mkstream=True)
            while True:
                try:
                    answer: Any = await redis.xreadgroup(
                        group, "demo", {stream: ">"}, count=10, block=1000
                    )
                except (ConnectionError, OSError) as exc:
                    _log.warning("demo engine: hand-off stream unreachable: %r", exc)
                    await asyncio.sleep(1)
                    continue
                for _, entries in answer or []:
                    for entry_id, fields in entries:
                        job: dict[str, Any] = msgspec.json.decode(fields[b"payload"])
                        self._start(self._answer(job))
                        await redis.xack(stream, group, entry_id)
        finally:
            await redis.aclose()

    async def _answer(self, job: dict[str, Any]) -> None:
        """Run a chat message's task, then post the answer to its conversation."""
        task_id = str(job.get("task_id"))
        if job.get("type") != "task_queued" or task_id in self._claimed:
            return  # a redelivered hand-off: the entry id is the task id
        self._claimed.add(task_id)
        question = str(job.get("input_message", ""))
        # A chat is answered: random failures stay with the engine's own tasks, so a user who
        # writes to the demo always sees the answer arrive (and a browser test cannot flake).
        answer = await self._work(
            task_id, str(job.get("agent_type", "assistant")), prompt=question, may_fail=False
        )
        conversation_id = job.get("conversation_id")
        if answer is None or not conversation_id:
            return
        try:
            await self._conversations.post_message(
                str(conversation_id),
                NewMessage(role=MessageRole.ASSISTANT, content=answer, task_id=task_id),
            )
        except DomainError as exc:  # deleted or archived meanwhile
            _log.info("demo engine: answer not posted: %s", exc)

    async def _work(
        self, task_id: str, agent: str, *, prompt: str = "", may_fail: bool = True
    ) -> str | None:
        """Start, stream, finish one task; returns its output (None if it failed or stopped)."""
        model = self._rng.choice(MODELS)
        await self._publisher.lifecycle(
            "task.started", task_id, assigned_agent=f"{agent}-1", model=model
        )
        lines = [f"Working on: {prompt}"] if prompt else []
        lines += STEPS
        for line in lines:
            for word in line.split(" "):
                if task_id in self._stop_requested:
                    await self._publisher.lifecycle("task.cancelled", task_id, error="stopped")
                    return None
                await self._publisher.output(task_id, word + " ")
                await asyncio.sleep(self._delay)
            await self._publisher.output(task_id, "\n")
        output = "\n".join(lines)
        input_tokens = 400 + len(prompt.split()) * 40
        output_tokens = len(output.split()) * 3
        cost = (Decimal(input_tokens) * 3 + Decimal(output_tokens) * 15) / Decimal(1_000_000)
        if may_fail and self._rng.random() < 0.1:
            await self._publisher.lifecycle(
                "task.failed",
                task_id,
                error="the agent ran out of retries",
                input_tokens=input_tokens,
                cost_usd=str(cost),
            )
            return None
        await self._publisher.lifecycle(
            "task.completed",
            task_id,
            output=output,
            cost_usd=str(cost),
            input_tokens=input_tokens,
            output_tokens=output_tokens,
        )
        return output

    def _start(self, work: Awaitable[Any]) -> None:
        async def guarded() -> None:
            try:
                await work
            except asyncio.CancelledError:
                raise
            except Exception:  # one task's failure must not stop the demo
                _log.warning("demo engine task failed", exc_info=True)

        running = asyncio.create_task(guarded())
        self._running.add(running)
        running.add_done_callback(self._running.discard)
