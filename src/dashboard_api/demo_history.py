"""Thirty days of believable history for `dashboard-api demo`, so every chart and table of the
console has data the moment it opens: tasks of several agents and models (with costs, failures
and a working-hours rhythm), conversations with answers, webhook events, knowledge sources and
OAuth installations.

It writes through the same units of work and stores as the services (task rollups and
conversation totals are recorded with each task, webhook rollups with each event), in a few
large transactions so that it stays fast on SQLite. It runs once per database: a marker task
tells a second start that the history is there.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from dashboard_api.domain.conversations import (
    Conversation,
    ConversationTotals,
    Message,
    MessageRole,
)
from dashboard_api.domain.ports import OAuthStatusStore, UnitOfWork, UnitOfWorkFactory
from dashboard_api.domain.sources import (
    DataSource,
    OAuthInstallation,
    SourceKind,
    SyncJob,
    SyncStatus,
)
from dashboard_api.domain.task_service import TaskService
from dashboard_api.domain.tasks import Task, TaskStatus
from dashboard_api.domain.webhooks import WebhookEvent, WebhookStatus, rollup_deltas

MARKER_TASK_ID = "demo-history-marker"
BATCH = 500


@dataclass(frozen=True)
class Agent:
    name: str
    models: tuple[str, ...]
    per_hour: float  # tasks per working hour
    failure_rate: float
    median_seconds: float
    output_tokens: int


AGENTS = (
    Agent("coder", ("claude-sonnet-4", "gpt-4.1"), 1.5, 0.08, 240, 2400),
    Agent("reviewer", ("claude-sonnet-4",), 1.0, 0.04, 90, 900),
    Agent("planner", ("claude-opus-4", "claude-sonnet-4"), 0.6, 0.05, 150, 1500),
    Agent("triager", ("claude-haiku-4", "gpt-4.1-mini"), 1.2, 0.12, 25, 350),
    Agent("docs-writer", ("claude-haiku-4",), 0.4, 0.03, 60, 1200),
)
# USD per million input and output tokens, as an engine would report them.
PRICES = {
    "claude-opus-4": (Decimal(15), Decimal(75)),
    "claude-sonnet-4": (Decimal(3), Decimal(15)),
    "claude-haiku-4": (Decimal("0.8"), Decimal(4)),
    "gpt-4.1": (Decimal(2), Decimal(8)),
    "gpt-4.1-mini": (Decimal("0.4"), Decimal("1.6")),
}
SOURCES = (
    ("github", 0.35),
    ("jira", 0.2),
    ("slack", 0.15),
    ("sentry", 0.1),
    ("api", 0.1),
    ("dashboard", 0.1),
)
WORK = {
    "coder": (
        "Fix the flaky test in {repo}",
        "Add pagination to the {thing} endpoint",
        "Upgrade {lib} in {repo} and fix what breaks",
    ),
    "reviewer": ("Review PR #{n} in {repo}", "Check the migration in PR #{n} for locking issues"),
    "planner": ("Plan the rollout of {thing} v2", "Break down epic {ticket} into tasks"),
    "triager": ("Triage Sentry issue {ticket}", "Classify the Slack report about {thing}"),
    "docs-writer": ("Document the {thing} API", "Write release notes for {repo}"),
}
REPOS = ("acme/billing", "acme/web", "acme/api-gateway", "acme/infra")
THINGS = ("invoices", "search", "checkout", "notifications", "audit log")
FAILURES = (
    "the agent ran out of retries",
    "tool call timed out after 120 s",
    "rate limited by the model provider",
    "tests still failing after 3 attempts",
)
WEBHOOKS = (
    ("github-main", "github", 5.0),
    ("jira-cloud", "jira", 2.0),
    ("sentry-alerts", "sentry", 1.2),
    ("slack-bot", "slack", 1.5),
)


async def backfill_history(
    *,
    unit_of_work: UnitOfWorkFactory,
    tasks: TaskService,
    oauth: OAuthStatusStore,
    now: datetime,
    days: int = 30,
    seed: int = 12,
) -> int:
    """Write `days` of history ending at `now`; returns the number of tasks written (0 when
    this database already has it)."""
    async with unit_of_work() as uow:
        if await uow.tasks.get(MARKER_TASK_ID) is not None:
            return 0
    rng = random.Random(seed)
    start = (now - timedelta(days=days)).replace(minute=0, second=0, microsecond=0)
    history = [*_tasks(rng, start, now)]
    conversations, messages, chat_tasks = _conversations(rng, start, now)
    history += chat_tasks
    history.sort(key=lambda task: task.created_at)
    history.append(_marker(now))
    for first in range(0, len(history), BATCH):
        async with unit_of_work() as uow:
            if first == 0:
                for conversation in conversations:
                    await uow.conversations.add(conversation)
            for task in history[first : first + BATCH]:
                await tasks.stage_new(uow, task)
            await uow.commit()
    async with unit_of_work() as uow:
        for message in messages:
            await uow.messages.add(message)
            await uow.conversations.add_totals(
                message.conversation_id,
                ConversationTotals(messages=1),
                active_at=message.created_at,
            )
        await _webhook_events(uow, rng, start, now)
        await _sources(uow, rng, now)
        await uow.commit()
    for installation in _installations(now):
        await oauth.put(installation)
    return len(history)


def _tasks(rng: random.Random, start: datetime, now: datetime) -> list[Task]:
    made: list[Task] = []
    hour = start
    while hour < now - timedelta(hours=1):
        # Busy on weekday working hours (UTC), quiet at night and at weekends.
        working = hour.weekday() < 5 and 7 <= hour.hour < 19
        load = (1.0 if working else 0.15) * (1 + 0.3 * math.sin(hour.timestamp() / 86_400))
        for agent in AGENTS:
            for _ in range(_poisson(rng, agent.per_hour * load)):
                made.append(_task(rng, agent, hour + timedelta(seconds=rng.uniform(0, 3599)), now))
        hour += timedelta(hours=1)
    return made


def _task(
    rng: random.Random,
    agent: Agent,
    created_at: datetime,
    now: datetime,
    *,
    conversation_id: str | None = None,
    prompt: str | None = None,
) -> Task:
    model = rng.choice(agent.models)
    waited = rng.uniform(0.5, 20)
    ran = rng.lognormvariate(math.log(agent.median_seconds), 0.6)
    started_at = created_at + timedelta(seconds=waited)
    completed_at = min(started_at + timedelta(seconds=ran), now)
    failed = rng.random() < agent.failure_rate
    cancelled = not failed and rng.random() < 0.01
    status = (
        TaskStatus.FAILED if failed else TaskStatus.CANCELLED if cancelled else TaskStatus.COMPLETED
    )
    input_tokens = int(rng.lognormvariate(math.log(6000), 0.7))
    output_tokens = int(agent.output_tokens * rng.uniform(0.3, 1.7) * (0.4 if failed else 1))
    cache_read = int(input_tokens * rng.uniform(0, 0.6))
    price_in, price_out = PRICES[model]
    cost = (price_in * input_tokens + price_out * output_tokens) / Decimal(1_000_000)
    source = "dashboard" if conversation_id else _weighted(rng, SOURCES)
    return Task(
        task_id=f"demo-h-{created_at:%Y%m%d%H%M%S}-{rng.randrange(16**6):06x}",
        status=status,
        agent_type=agent.name,
        source=source,
        created_at=created_at,
        input_message=prompt or _prompt(rng, agent),
        assigned_agent=f"{agent.name}-{rng.randint(1, 3)}",
        conversation_id=conversation_id,
        output=None if failed else f"Done: {(prompt or 'the task').lower()[:80]}. Summary posted.",
        error=rng.choice(FAILURES) if failed else None,
        model=model,
        cost_usd=cost.quantize(Decimal("0.000001")),
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cache_read_tokens=cache_read,
        started_at=started_at,
        completed_at=completed_at,
    )


def _conversations(
    rng: random.Random, start: datetime, now: datetime
) -> tuple[list[Conversation], list[Message], list[Task]]:
    topics = (
        ("Why did the billing deploy fail?", "coder"),
        ("Plan for the search rewrite", "planner"),
        ("Sentry spike on checkout", "triager"),
        ("Docs for the audit log API", "docs-writer"),
        ("Review queue this week", "reviewer"),
        ("Flaky tests in acme/web", "coder"),
    )
    conversations, messages, tasks = [], [], []
    by_name = {agent.name: agent for agent in AGENTS}
    for number, (title, agent_name) in enumerate(topics):
        began = start + timedelta(days=rng.uniform(0, 28))
        conversation_id = f"demo-c-{number:02d}"
        at = began
        for turn in range(rng.randint(2, 4)):
            question = f"{title} (part {turn + 1}): what do you see?" if turn else title
            task = _task(
                rng, by_name[agent_name], at, now, conversation_id=conversation_id, prompt=question
            )
            tasks.append(task)
            messages.append(
                Message(
                    message_id=f"{conversation_id}-u{turn}",
                    conversation_id=conversation_id,
                    role=MessageRole.USER,
                    content=question,
                    created_at=at,
                    task_id=task.task_id,
                )
            )
            answer_at = task.completed_at or at
            answer = task.output or f"I could not finish: {task.error}."
            messages.append(
                Message(
                    message_id=f"{conversation_id}-a{turn}",
                    conversation_id=conversation_id,
                    role=MessageRole.ASSISTANT,
                    content=answer,
                    created_at=answer_at,
                    task_id=task.task_id,
                )
            )
            at = answer_at + timedelta(minutes=rng.uniform(2, 90))
        conversations.append(
            Conversation(
                conversation_id=conversation_id,
                title=title,
                agent_type=agent_name,
                user_id="demo-user",
                created_at=began,
                updated_at=began,
            )
        )
    return conversations, messages, tasks


async def _webhook_events(
    uow: UnitOfWork, rng: random.Random, start: datetime, now: datetime
) -> None:
    kinds = {
        "github": ("pull_request", "push", "issue_comment"),
        "jira": ("issue_created", "issue_updated"),
        "sentry": ("issue_alert",),
        "slack": ("app_mention", "message"),
    }
    for webhook_id, provider, per_day in WEBHOOKS:
        moment = start
        while True:
            moment += timedelta(hours=rng.expovariate(per_day / 24))
            if moment >= now:
                break
            roll = rng.random()
            status = (
                WebhookStatus.FAILED
                if roll < 0.04
                else WebhookStatus.SKIPPED
                if roll < 0.1
                else WebhookStatus.PROCESSED
            )
            event = WebhookEvent(
                event_id=f"demo-w-{webhook_id}-{moment:%Y%m%d%H%M%S}-{rng.randrange(4096):03x}",
                webhook_id=webhook_id,
                provider=provider,
                event_type=rng.choice(kinds[provider]),
                status=status,
                created_at=moment,
                http_status=500 if status is WebhookStatus.FAILED else 200,
                latency_ms=int(rng.lognormvariate(math.log(180), 0.5)),
                error="agent engine unreachable" if status is WebhookStatus.FAILED else None,
            )
            await uow.webhook_events.add(event)
            await uow.webhook_rollups.apply(rollup_deltas(None, event))


async def _sources(uow: UnitOfWork, rng: random.Random, now: datetime) -> None:
    for number, (kind, name, ref) in enumerate(
        (
            (SourceKind.GITHUB_REPO, "Billing service", "acme/billing"),
            (SourceKind.JIRA_PROJECT, "Platform project", "PLAT"),
            (SourceKind.CONFLUENCE_SPACE, "Engineering handbook", "ENG"),
        )
    ):
        synced = now - timedelta(hours=rng.uniform(1, 30))
        job = SyncJob(
            job_id=f"demo-sync-{number}",
            status=SyncStatus.SUCCEEDED,
            requested_at=synced,
            started_at=synced,
            finished_at=synced + timedelta(minutes=3),
            documents=rng.randint(200, 4000),
        )
        await uow.sources.add(
            DataSource(
                source_id=f"demo-source-{number}",
                kind=kind,
                name=name,
                external_ref=ref,
                created_at=now - timedelta(days=40),
                last_sync=job,
            )
        )


def _installations(now: datetime) -> list[OAuthInstallation]:
    return [
        OAuthInstallation(
            platform="github",
            connected=True,
            scopes=("repo", "read:org"),
            account="acme",
            installed_at=now - timedelta(days=60),
            updated_at=now,
        ),
        OAuthInstallation(
            platform="slack",
            connected=True,
            scopes=("chat:write",),
            account="acme.slack.com",
            installed_at=now - timedelta(days=45),
            updated_at=now,
        ),
        OAuthInstallation(
            platform="jira",
            connected=True,
            scopes=("read:jira-work",),
            account="acme.atlassian.net",
            installed_at=now - timedelta(days=50),
            token_expires_at=now + timedelta(days=20),
            updated_at=now,
        ),
    ]


def _marker(now: datetime) -> Task:
    # A cancelled task of no cost: it only says "the history is here" to a second start.
    return Task(
        task_id=MARKER_TASK_ID,
        status=TaskStatus.CANCELLED,
        agent_type="planner",
        source="api",
        created_at=now - timedelta(days=30),
        completed_at=now - timedelta(days=30),
        input_message="(demo history marker)",
    )


def _prompt(rng: random.Random, agent: Agent) -> str:
    return rng.choice(WORK[agent.name]).format(
        repo=rng.choice(REPOS),
        thing=rng.choice(THINGS),
        lib=rng.choice(("pydantic", "react", "sqlalchemy")),
        n=rng.randint(1200, 4800),
        ticket=f"PLAT-{rng.randint(100, 999)}",
    )


def _poisson(rng: random.Random, mean: float) -> int:
    threshold, k, product = math.exp(-mean), 0, rng.random()
    while product > threshold:
        k += 1
        product *= rng.random()
    return k


def _weighted(rng: random.Random, choices: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([name for name, _ in choices], [weight for _, weight in choices])[0]
