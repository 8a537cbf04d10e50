"""The rest of the demo's history: conversations with answers, webhook events, knowledge sources
and OAuth installations (see demo_history.py)."""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta

from dashboard_api.adapters.demo.tasks import AGENTS, demo_task
from dashboard_api.domain.model.conversations import Conversation, Message, MessageRole
from dashboard_api.domain.model.sources import (
    DataSource,
    OAuthInstallation,
    SourceKind,
    SyncJob,
    SyncStatus,
)
from dashboard_api.domain.model.tasks import Task
from dashboard_api.domain.model.webhooks import WebhookEvent, WebhookStatus, rollup_deltas
from dashboard_api.domain.ports import UnitOfWork

WEBHOOKS = (
    ("github-main", "github", 3.0),
    ("jira-cloud", "jira", 1.2),
    ("sentry-alerts", "sentry", 0.8),
    ("slack-bot", "slack", 1.0),
)


def conversation_history(
    rng: random.Random, start: datetime, now: datetime
) -> tuple[list[Conversation], list[Message], list[Task]]:
    """Conversations, their messages (a question, then its answer) and the answering tasks."""
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
            task = demo_task(
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


async def write_webhook_events(
    uow: UnitOfWork, rng: random.Random, start: datetime, now: datetime
) -> None:
    """Events of four webhooks over the window, with their rollups, in the caller's unit of work."""
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


async def write_sources(uow: UnitOfWork, rng: random.Random, now: datetime) -> None:
    """Three knowledge sources, each with a finished sync."""
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


def installations(now: datetime) -> list[OAuthInstallation]:
    """OAuth installations of three platforms."""
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
