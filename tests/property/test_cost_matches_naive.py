"""Property: the cost of any usage equals a naive computation from the table, to the micro-dollar.

The naive side reads the raw table with Fractions and rounds once (half-even); it shares no code
with the cost engine but the file it reads.
"""

from __future__ import annotations

import tomllib
from datetime import UTC, date, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from dashboard_api.domain.model.cost import Usage
from dashboard_api.domain.model.pricing import PriceTable
from dashboard_api.price_file import DEFAULT_PRICES

RATE = st.decimals(min_value=0, max_value=200, places=4, allow_nan=False).map(str)
TOKENS = st.integers(min_value=0, max_value=5_000_000)


@st.composite
def usages(draw: st.DrawFn) -> Usage:
    cache_write = draw(TOKENS)
    output = draw(TOKENS)
    return Usage(
        input=draw(TOKENS),
        output=output,
        cache_read=draw(TOKENS),
        cache_write=cache_write,
        cache_write_1h=draw(st.integers(0, cache_write)),
        reasoning=draw(st.integers(0, output)),
    )


@st.composite
def rates(draw: st.DrawFn) -> dict[str, Any]:
    drawn = {"input": draw(RATE), "output": draw(RATE)}
    for kind in ("cache_read", "cache_write", "cache_write_1h", "reasoning"):
        if draw(st.booleans()):
            drawn[kind] = draw(RATE)
    return drawn


@st.composite
def entries(draw: st.DrawFn) -> dict[str, Any]:
    thresholds = draw(st.lists(st.integers(0, 12_000_000), max_size=3, unique=True))
    return {
        "pattern": "model*",
        **draw(rates()),
        "tiers": [{"above_prompt_tokens": t, **draw(rates())} for t in thresholds],
    }


def naive_micros(entry: dict[str, Any], usage: Usage) -> int:
    prompt = usage.input + usage.cache_read + usage.cache_write
    rates = entry
    for tier in sorted(entry.get("tiers", []), key=lambda t: t["above_prompt_tokens"]):
        if prompt > tier["above_prompt_tokens"]:
            rates = tier

    def rate(kind: str, default: str | None = None) -> Fraction:
        value = rates.get(kind, rates.get(default, "0") if default else "0")
        return Fraction(value)

    dollars = (
        usage.input * rate("input")
        + (usage.output - usage.reasoning) * rate("output")
        + usage.reasoning * rate("reasoning", "output")
        + usage.cache_read * rate("cache_read")
        + (usage.cache_write - usage.cache_write_1h) * rate("cache_write")
        + usage.cache_write_1h * rate("cache_write_1h", "cache_write")
    ) / 1_000_000
    return round(dollars * 1_000_000)  # round() of a Fraction is half-even


def _micros(amount: Decimal) -> int:
    return int(amount.scaleb(6))


@given(entry=entries(), usage=usages())
def test_any_usage_costs_what_the_table_says(entry: dict[str, Any], usage: Usage) -> None:
    table = PriceTable.from_mapping({"version": "p", "prices": [entry]})
    breakdown = table.quote("model-x", usage, datetime(2026, 1, 1, tzinfo=UTC))
    assert breakdown is not None
    assert _micros(breakdown.total) == naive_micros(entry, usage)


SHIPPED_RAW = tomllib.loads(DEFAULT_PRICES.read_text(), parse_float=str)
SHIPPED = PriceTable.from_mapping(SHIPPED_RAW)


def _patterns(entry: dict[str, Any]) -> list[str]:
    pattern = entry["pattern"]
    return [pattern] if isinstance(pattern, str) else list(pattern)


LITERAL_NAMES = sorted(
    {p for e in SHIPPED_RAW["prices"] for p in _patterns(e) if not set(p) & set("*?[")}
)


def _in_force(entry: dict[str, Any], day: date) -> bool:
    start, end = entry.get("effective_from"), entry.get("effective_until")
    return (start is None or start <= day) and (end is None or day < end)


@given(
    name=st.sampled_from(LITERAL_NAMES),
    usage=usages(),
    moment=st.datetimes(
        min_value=datetime(2024, 1, 1), max_value=datetime(2026, 12, 31), timezones=st.just(UTC)
    ),
)
def test_the_shipped_table_prices_every_model_as_its_entry_says(
    name: str, usage: Usage, moment: datetime
) -> None:
    (entry,) = [
        e for e in SHIPPED_RAW["prices"] if name in _patterns(e) and _in_force(e, moment.date())
    ]
    breakdown = SHIPPED.quote(name, usage, moment)
    assert breakdown is not None
    assert _micros(breakdown.total) == naive_micros(entry, usage)
