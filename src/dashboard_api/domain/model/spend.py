"""Spend by who asked and where from: hourly sums per user, conversation and source.

The agent-type rollups cannot answer "what did this user cost this week": tasks carry no user,
and a conversation's totals are all-time. These rows are kept in the task's own transaction, like
the rollups, so a budget or a window over them is exact and never scans tasks. A task counts in
the hour of its creation; a user is its conversation's `user_id`.
"""

from __future__ import annotations

import operator
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

import msgspec

from dashboard_api.domain.model.buckets import hour_of
from dashboard_api.domain.model.tasks import Task
from dashboard_api.domain.money import from_micros, to_micros


class SpendDimension(StrEnum):
    USER = "user"
    CONVERSATION = "conversation"
    SOURCE = "source"


class SpendKey(msgspec.Struct, frozen=True, array_like=True, order=True):
    dimension: SpendDimension
    key: str
    hour: datetime


class SpendFigures(msgspec.Struct, frozen=True):
    tasks: int = 0
    cost_micros: int = 0
    input_tokens: int = 0
    output_tokens: int = 0

    def __add__(self, other: SpendFigures) -> SpendFigures:
        return SpendFigures(
            self.tasks + other.tasks,
            self.cost_micros + other.cost_micros,
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
        )

    def __neg__(self) -> SpendFigures:
        return SpendFigures(-self.tasks, -self.cost_micros, -self.input_tokens, -self.output_tokens)

    @property
    def cost_usd(self) -> Decimal:
        return from_micros(self.cost_micros)


class SpendChange(msgspec.Struct, frozen=True):
    key: SpendKey
    delta: SpendFigures


class SpendTotal(msgspec.Struct, frozen=True, kw_only=True):
    """One key's sums over a window, as the API shows them."""

    key: str
    tasks: int
    cost_usd: Decimal
    input_tokens: int
    output_tokens: int


def _contribution(task: Task | None, user_id: str | None) -> dict[SpendKey, SpendFigures]:
    if task is None:
        return {}
    hour = hour_of(task.created_at)
    figures = SpendFigures(1, to_micros(task.cost_usd), task.input_tokens, task.output_tokens)
    keys = [SpendKey(SpendDimension.SOURCE, task.source, hour)]
    if task.conversation_id is not None:
        keys.append(SpendKey(SpendDimension.CONVERSATION, task.conversation_id, hour))
    if user_id is not None:
        keys.append(SpendKey(SpendDimension.USER, user_id, hour))
    return dict.fromkeys(keys, figures)


def spend_changes(
    before: Task | None, after: Task, user_before: str | None, user_after: str | None
) -> list[SpendChange]:
    """What moving a task from `before` to `after` changes, in key order (no deadlocks): the
    definition that `summed_spend_changes` adds up (tests/unit/test_spend_sums.py)."""
    deltas: dict[SpendKey, SpendFigures] = defaultdict(SpendFigures)
    for key, figures in _contribution(before, user_before).items():
        deltas[key] = deltas[key] + -figures
    for key, figures in _contribution(after, user_after).items():
        deltas[key] = deltas[key] + figures
    return [
        SpendChange(key, delta) for key, delta in sorted(deltas.items()) if delta != SpendFigures()
    ]


# A task's part of its spend keys: (task, its conversation's user, +1 joining / -1 leaving).
SpendPart = tuple[Task, str | None, int]


def summed_spend_changes(parts: Iterable[SpendPart]) -> list[SpendChange]:
    """What `spend_changes` of every move of a batch adds up to, per key, in key order, keys
    that net to nothing left out: the same changes, summed as a row of integers per key
    instead of a `SpendFigures` per contribution and per sum (those were ~5% of an ingested
    event's CPU, bench/ingest_profile.py)."""
    sums: dict[SpendKey, list[int]] = {}
    for task, user_id, sign in parts:
        hour = hour_of(task.created_at)
        figures = (sign, sign * to_micros(task.cost_usd), sign * task.input_tokens,
                   sign * task.output_tokens)  # fmt: skip
        keys = [SpendKey(SpendDimension.SOURCE, task.source, hour)]
        if task.conversation_id is not None:
            keys.append(SpendKey(SpendDimension.CONVERSATION, task.conversation_id, hour))
        if user_id is not None:
            keys.append(SpendKey(SpendDimension.USER, user_id, hour))
        for key in keys:
            row = sums.get(key)
            if row is None:
                sums[key] = list(figures)
            else:
                row[:] = map(operator.add, row, figures)
    return [SpendChange(key, SpendFigures(*row)) for key, row in sorted(sums.items()) if any(row)]


def ranked_totals(sums: dict[str, SpendFigures], limit: int) -> list[SpendTotal]:
    """Highest cost first, then by key; keys whose figures cancelled out are left out."""
    ranked = sorted(
        ((key, figures) for key, figures in sums.items() if figures != SpendFigures()),
        key=lambda item: (-item[1].cost_micros, item[0]),
    )
    return [
        SpendTotal(
            key=key,
            tasks=figures.tasks,
            cost_usd=figures.cost_usd,
            input_tokens=figures.input_tokens,
            output_tokens=figures.output_tokens,
        )
        for key, figures in ranked[:limit]
    ]
