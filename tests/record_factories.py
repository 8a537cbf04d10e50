"""Test data for conversations, messages, webhook events and data sources."""

from __future__ import annotations

import random
from datetime import timedelta

from dashboard_api.domain.ids import uuid7
from dashboard_api.domain.model.conversations import Conversation, Message, MessageRole
from dashboard_api.domain.model.webhooks import WebhookEvent, WebhookStatus
from tests.factories import EPOCH


def conversation(minutes: float = 0, **overrides: object) -> Conversation:
    moment = EPOCH + timedelta(minutes=minutes)
    values: dict[str, object] = {
        "conversation_id": uuid7(),
        "title": "Fix the flaky test",
        "agent_type": "coder",
        "user_id": "u-1",
        "created_at": moment,
        "updated_at": moment,
    }
    values.update(overrides)
    return Conversation(**values)  # type: ignore[arg-type]


def message(conversation_id: str, seconds: float = 0, **overrides: object) -> Message:
    values: dict[str, object] = {
        "message_id": uuid7(),
        "conversation_id": conversation_id,
        "role": MessageRole.USER,
        "content": "please look at this ✓",
        "created_at": EPOCH + timedelta(seconds=seconds),
    }
    values.update(overrides)
    return Message(**values)  # type: ignore[arg-type]


def webhook_event(**overrides: object) -> WebhookEvent:
    values: dict[str, object] = {
        "event_id": uuid7(),
        "webhook_id": random.choice(["gh-main", "jira", "sentry"]),
        "provider": random.choice(["github", "jira"]),
        "event_type": "push",
        "status": random.choice(list(WebhookStatus)),
        "created_at": EPOCH + timedelta(seconds=random.randint(0, 3 * 86_400)),
        "latency_ms": random.choice([None, 3, 40, 120, 900, 45_000]),
    }
    values.update(overrides)
    return WebhookEvent(**values)  # type: ignore[arg-type]
