"""A batch's spend changes summed as rows of integers are what `spend_changes` of each of its
moves adds up to, key by key (its faster form must not move a micro-dollar)."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import timedelta
from decimal import Decimal

import msgspec

from dashboard_api.domain.model.spend import (
    SpendChange,
    SpendFigures,
    SpendKey,
    SpendPart,
    spend_changes,
    summed_spend_changes,
)
from dashboard_api.domain.model.tasks import Task
from tests.factories import TaskFactory


def _reference(moves: list[tuple[Task | None, Task, str | None, str | None]]) -> list[SpendChange]:
    deltas: dict[SpendKey, SpendFigures] = defaultdict(SpendFigures)
    for before, after, user_before, user_after in moves:
        for change in spend_changes(before, after, user_before, user_after):
            deltas[change.key] = deltas[change.key] + change.delta
    return [
        SpendChange(key, delta) for key, delta in sorted(deltas.items()) if delta != SpendFigures()
    ]


def test_summed_changes_equal_the_sum_of_each_moves_changes() -> None:
    rng = random.Random(11)
    for _ in range(200):
        moves: list[tuple[Task | None, Task, str | None, str | None]] = []
        for _ in range(rng.randrange(0, 30)):
            before = TaskFactory.build(
                source=rng.choice(["api", "slack"]),
                conversation_id=rng.choice([None, "c1", "c2"]),
                cost_usd=Decimal(rng.randrange(0, 10**7)).scaleb(-7),
                input_tokens=rng.randrange(0, 100),
                output_tokens=rng.randrange(0, 100),
            )
            after = msgspec.structs.replace(
                before,
                cost_usd=rng.choice([before.cost_usd, Decimal(rng.randrange(0, 10**6)).scaleb(-6)]),
                input_tokens=before.input_tokens + rng.randrange(0, 3),
                conversation_id=before.conversation_id or rng.choice([None, "c3"]),
                created_at=before.created_at + rng.choice([timedelta(0), timedelta(hours=1)]),
            )
            users = (rng.choice([None, "u1", "u2"]), rng.choice([None, "u1"]))
            moves.append((rng.choice([None, before]), after, *users))
        parts: list[SpendPart] = []
        for before, after, user_before, user_after in moves:
            if before is not None:
                parts.append((before, user_before, -1))
            parts.append((after, user_after, 1))
        assert summed_spend_changes(parts) == _reference(moves)
