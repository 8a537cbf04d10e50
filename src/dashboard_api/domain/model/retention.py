"""The kinds of data that retention ages out."""

from __future__ import annotations

from enum import StrEnum


class DataKind(StrEnum):
    TASK_TEXT = "task_text"  # input, output and error of finished tasks: emptied
    TASKS = "tasks"  # finished tasks: deleted
    MESSAGES = "messages"  # conversation messages: deleted (the totals stay)
    WEBHOOK_PAYLOADS = "webhook_payloads"  # payloads of webhook events: emptied
    WEBHOOK_EVENTS = "webhook_events"  # webhook events: deleted (the stats stay)
