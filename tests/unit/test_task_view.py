"""`TaskView`, the by-id read's answer: built from a stored row (`view_of_full`) or from a
task (`TaskView.of`, the memory store's), it encodes to exactly the bytes of the HTTP detail
the ordinary handler renders (`TaskDetail.of` of the task the row holds)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TypeVar

from dashboard_api.adapters.sqlalchemy.task_rows import FULL_COLUMNS, task_of_full, view_of_full
from dashboard_api.adapters.sqlalchemy.tasks import _row
from dashboard_api.domain.model.cost import CostBreakdown, CostSource
from dashboard_api.domain.model.tasks import Task, TaskStatus, TaskView
from dashboard_api.http.encoding import encode_json
from dashboard_api.http.schemas.tasks import TaskDetail

T = TypeVar("T")
_AT = datetime(2026, 11, 30, 12, 0, 1, 250_000, tzinfo=UTC)


def _maybe(chance: random.Random, value: T) -> T | None:
    return value if chance.random() < 0.5 else None


def _money(chance: random.Random) -> Decimal:
    return Decimal(chance.choice([0, 1, 10, 999_999, 1_000_000, chance.randrange(10**12)])).scaleb(
        -6
    )


def random_task(chance: random.Random, number: int) -> Task:
    created = _AT + timedelta(microseconds=chance.randrange(-(10**12), 10**12))
    started = _maybe(chance, created + timedelta(microseconds=chance.randrange(10**9)))
    completed = _maybe(chance, created + timedelta(microseconds=chance.randrange(-(10**6), 10**10)))
    breakdown = None
    if chance.random() < 0.4:
        breakdown = CostBreakdown(
            input=_money(chance),
            output=_money(chance),
            reasoning=_money(chance),
            cache_read=_money(chance),
            cache_write_5m=_money(chance),
            cache_write_1h=_money(chance),
            pattern=chance.choice(["claude*", "gpt-4o", 'q"uote\\']),
            effective_from=_maybe(chance, _AT),
            tier_above_prompt_tokens=_maybe(chance, chance.randrange(1, 10**6)),
        )
    text = ["", "hi", "é ü 漢字", 'a "quoted"\nline\t\\', "x" * 300, "\u2028 line separator"]
    return Task(
        task_id=f"t-{number}",
        status=chance.choice(list(TaskStatus)),
        agent_type=chance.choice(["coder", "reviewer"]),
        source=chance.choice(["api", "engine", ""]),
        created_at=created,
        input_message=chance.choice(text),
        assigned_agent=_maybe(chance, "agent-7"),
        session_id=_maybe(chance, "s-1"),
        conversation_id=_maybe(chance, "c-1"),
        output=_maybe(chance, chance.choice(text)),
        error=_maybe(chance, chance.choice(text)),
        model=_maybe(chance, "claude"),
        cost_usd=_money(chance),
        price_version=_maybe(chance, "2026-11"),
        input_tokens=chance.randrange(10**7),
        output_tokens=chance.randrange(10**7),
        cache_read_tokens=chance.randrange(10**4),
        cache_write_tokens=chance.randrange(10**4),
        cache_write_1h_tokens=chance.randrange(10**3),
        reasoning_tokens=chance.randrange(10**3),
        cost_source=_maybe(chance, chance.choice(list(CostSource))),
        cost_breakdown=breakdown,
        reported_cost_usd=_maybe(chance, _money(chance)),
        retry_of=_maybe(chance, "t-0"),
        started_at=started,
        completed_at=completed,
        version=chance.randrange(1, 100),
    )


def test_the_view_has_the_fields_of_the_http_detail_in_its_order() -> None:
    assert TaskView.__struct_fields__ == TaskDetail.__struct_fields__


def test_the_view_encodes_as_the_http_detail() -> None:
    chance = random.Random(15)
    kinds: set[tuple[bool, bool, bool]] = set()
    for number in range(3000):
        task = random_task(chance, number)
        detail = encode_json(TaskDetail.of(task))
        assert encode_json(TaskView.of(task)) == detail
        # The row the store writes for it, read back by position as the store reads it.
        row = tuple(_row(task)[name] for name in FULL_COLUMNS)
        stored = task_of_full(row)
        assert encode_json(view_of_full(row)) == encode_json(TaskDetail.of(stored))
        assert view_of_full(row) == TaskView.of(stored)
        kinds.add((task.cost_breakdown is None, task.cost_source is None, task.cost_usd == 0))
    assert len(kinds) == 8  # every mix of breakdown, recorded source and zero cost was seen
