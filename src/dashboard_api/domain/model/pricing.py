"""The cost engine: prices by model pattern and effective date, exact to the micro-dollar.

A table holds price entries. An entry names a model pattern (a glob, `claude-sonnet-4*`), the
day it took effect (UTC) and optionally the day it ended, the USD per million tokens of each
usage type, and tiers: above a number of prompt tokens the whole request bills at the tier's
rates (Anthropic's and Google's long-context prices work this way). The price in force at a
task's creation applies, so adding a new price never changes a past cost.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from fnmatch import fnmatchcase
from itertools import pairwise

import msgspec

from dashboard_api.domain.errors import InvalidInput
from dashboard_api.domain.model.cost import CostBreakdown, CostSource, Usage, apportion
from dashboard_api.domain.model.tasks import Task, inferred_source
from dashboard_api.domain.money import usd


class Rates(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """USD per million tokens of each usage type. A one-hour cache write without its own price
    bills at the five-minute price; reasoning without its own price bills as output."""

    input: Decimal
    output: Decimal
    cache_read: Decimal = Decimal(0)
    cache_write: Decimal = Decimal(0)
    cache_write_1h: Decimal | None = None
    reasoning: Decimal | None = None

    def amounts(self) -> dict[str, Decimal]:
        return {
            kind: value
            for kind in Rates.__struct_fields__
            if (value := getattr(self, kind)) is not None
        }


class Tier(Rates, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Rates for a request whose prompt (input + cache read + cache write) exceeds a size."""

    above_prompt_tokens: int


class ModelPrice(Rates, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One price of the models its patterns match, in force from `effective_from` (inclusive,
    UTC midnight; none: always) until `effective_until` (exclusive; none: still in force)."""

    pattern: str | tuple[str, ...]
    provider: str | None = None
    effective_from: date | None = None
    effective_until: date | None = None
    tiers: tuple[Tier, ...] = ()

    @property
    def patterns(self) -> tuple[str, ...]:
        return (self.pattern,) if isinstance(self.pattern, str) else self.pattern

    def best_match(self, model: str) -> tuple[int, str] | None:
        """The pattern matching `model` (lower case) with the most literal characters, and
        that count: when several prices match, the most specific wins."""
        return max(
            ((_literal_length(p), p) for p in self.patterns if fnmatchcase(model, p.lower())),
            default=None,
        )

    def in_force(self, at: datetime) -> bool:
        day = at.astimezone(UTC).date()
        if self.effective_from is not None and day < self.effective_from:
            return False
        return self.effective_until is None or day < self.effective_until

    def rates_for(self, usage: Usage) -> tuple[Rates, int | None]:
        """The rates a request bills at: its highest tier exceeded, else the base rates."""
        exceeded = [t for t in self.tiers if usage.prompt_tokens > t.above_prompt_tokens]
        if not exceeded:
            return self, None
        tier = max(exceeded, key=lambda t: t.above_prompt_tokens)
        return tier, tier.above_prompt_tokens


class PriceTable(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    version: str
    prices: tuple[ModelPrice, ...] = ()

    @classmethod
    def parse(cls, raw: Mapping[str, object]) -> PriceTable:
        """The table a parsed price file describes, refusing unknown or malformed fields.

        The first format (`[models."name"]` with four prices, no dates) is still read: each
        model becomes an exact pattern in force since always.
        """
        try:
            return msgspec.convert(_upgrade_legacy(raw), cls, strict=False)
        except (msgspec.ValidationError, InvalidOperation) as exc:
            raise InvalidInput(f"price table: {exc}", field="prices") from exc

    @classmethod
    def from_mapping(cls, raw: Mapping[str, object]) -> PriceTable:
        """A usable table: parsed, and refused on any problem but a gap (`price_problems`)."""
        table = cls.parse(raw)
        errors = [problem for problem in price_problems(table) if not problem.startswith("gap")]
        if errors:
            raise InvalidInput(f"price table: {errors[0]}", field="prices")
        return table

    def price_for(self, model: str, at: datetime) -> ModelPrice | None:
        """The price in force at `at` for a model id, tried whole, then without its provider
        prefixes: `openrouter/anthropic/claude-x`, `anthropic/claude-x`, `claude-x`."""
        found = self._match(model, at)
        return None if found is None else found[0]

    def _match(self, model: str, at: datetime) -> tuple[ModelPrice, str] | None:
        """`_find`, remembered per table, model and UTC day (what it depends on): every
        priced change asks it, and finding it tries each price's patterns (~30 fnmatch calls
        per call: half of an OTLP span's CPU once its writes were batched, cProfile)."""
        key = (id(self), model, at.astimezone(UTC).date())
        known = _MATCHES.get(key)
        if known is not None and known[0] is self:
            return known[1]
        found = self._find(model, at)
        if len(_MATCHES) >= _MATCHES_KEPT:
            _MATCHES.clear()  # bounded: model names come from clients
        _MATCHES[key] = (self, found)
        return found

    def _find(self, model: str, at: datetime) -> tuple[ModelPrice, str] | None:
        name = model.strip().lower()
        while name:
            ranked = [
                (match[0], price.effective_from or date.min, index, match[1])
                for index, price in enumerate(self.prices)
                if price.in_force(at) and (match := price.best_match(name)) is not None
            ]
            if ranked:
                best = max(ranked)
                return self.prices[best[2]], best[3]
            _, slash, rest = name.partition("/")
            name = rest if slash else ""
        return None

    def quote(self, model: str | None, usage: Usage, at: datetime) -> CostBreakdown | None:
        """What `usage` costs on `model` at `at`, by usage type; None when it has no price."""
        found = self._match(model, at) if model else None
        if found is None:
            return None
        price, pattern = found
        rates, tier = price.rates_for(usage)
        reasoning = min(usage.reasoning, usage.output)
        write_1h = min(usage.cache_write_1h, usage.cache_write)
        parts = apportion(
            {
                "input": _per_million(usage.input, rates.input),
                "output": _per_million(usage.output - reasoning, rates.output),
                "reasoning": _per_million(reasoning, _or(rates.reasoning, rates.output)),
                "cache_read": _per_million(usage.cache_read, rates.cache_read),
                "cache_write_5m": _per_million(usage.cache_write - write_1h, rates.cache_write),
                "cache_write_1h": _per_million(
                    write_1h, _or(rates.cache_write_1h, rates.cache_write)
                ),
            }
        )
        return CostBreakdown(
            **parts,
            pattern=pattern,
            effective_from=_midnight(price.effective_from),
            tier_above_prompt_tokens=tier,
        )

    def cost(self, task: Task) -> Decimal | None:
        """What the task's tokens cost on its model, or None when the model has no price."""
        breakdown = self.quote(task.model, usage_of(task), task.created_at)
        return None if breakdown is None else usd(breakdown.total)


# `PriceTable._match`'s answers: (table id, model, UTC day) -> (the table, its answer). The
# table is kept with its answer, so an id is never taken for another table's.
_MATCHES: dict[tuple[int, str, date], tuple[PriceTable, tuple[ModelPrice, str] | None]] = {}
_MATCHES_KEPT = 4096


def usage_of(task: Task) -> Usage:
    return Usage(
        input=task.input_tokens,
        output=task.output_tokens,
        cache_read=task.cache_read_tokens,
        cache_write=task.cache_write_tokens,
        cache_write_1h=task.cache_write_1h_tokens,
        reasoning=task.reasoning_tokens,
    )


def source_of(task: Task) -> CostSource | None:
    """Where the task's cost came from (`inferred_source`)."""
    return inferred_source(task.cost_source, task.price_version, task.cost_usd)


def price_problems(table: PriceTable) -> list[str]:
    """Everything wrong with a table. Overlaps and bad values make it unusable; a `gap` (a
    pattern without a price for a while) is legal but usually a mistake, so `check` names it."""
    problems: list[str] = []
    by_pattern: dict[str, list[ModelPrice]] = {}
    for price in table.prices:
        for pattern in price.patterns:
            by_pattern.setdefault(pattern.lower(), []).append(price)
        problems.extend(_value_problems(price))
    for pattern, prices in by_pattern.items():
        ordered = sorted(prices, key=lambda p: p.effective_from or date.min)
        for earlier, later in pairwise(ordered):
            start = later.effective_from or date.min
            if earlier.effective_until is None or earlier.effective_until > start:
                problems.append(
                    f"overlap: two prices of {pattern!r} are in force on {start.isoformat()}"
                )
            elif earlier.effective_until < start:
                problems.append(
                    f"gap: {pattern!r} has no price from {earlier.effective_until.isoformat()}"
                    f" to {start.isoformat()}"
                )
    return problems


def _value_problems(price: ModelPrice) -> list[str]:
    name = ", ".join(price.patterns) or "(no pattern)"
    problems = [] if all(p.strip() for p in price.patterns) else [f"{name}: an empty pattern"]
    if not price.patterns:
        problems.append("a price has no pattern")
    for rates in (price, *price.tiers):
        for kind, value in rates.amounts().items():
            if not value.is_finite() or value < 0:
                problems.append(f"{name}.{kind} is not a price: {value}")
    thresholds = [tier.above_prompt_tokens for tier in price.tiers]
    if len(set(thresholds)) != len(thresholds) or any(t < 0 for t in thresholds):
        problems.append(f"{name}: tier thresholds must be distinct and not negative")
    if (
        price.effective_from is not None
        and price.effective_until is not None
        and price.effective_until <= price.effective_from
    ):
        problems.append(f"{name}: effective_until is not after effective_from")
    return problems


def _upgrade_legacy(raw: Mapping[str, object]) -> Mapping[str, object]:
    models = raw.get("models")
    if not isinstance(models, Mapping):
        return raw
    upgraded = {key: value for key, value in raw.items() if key != "models"}
    listed = list(upgraded.get("prices", ()))  # type: ignore[call-overload]
    for name, rates in models.items():
        if isinstance(rates, Mapping):
            listed.append({"pattern": name, **rates})
        else:
            listed.append(rates)  # refused by the conversion, with its place
    upgraded["prices"] = listed
    return upgraded


def _literal_length(pattern: str) -> int:
    return len(pattern) - sum(pattern.count(c) for c in "*?[]")


def _per_million(tokens: int, rate: Decimal) -> Decimal:
    return (tokens * rate).scaleb(-6)


def _or(value: Decimal | None, default: Decimal) -> Decimal:
    return default if value is None else value


def _midnight(day: date | None) -> datetime | None:
    return None if day is None else datetime(day.year, day.month, day.day, tzinfo=UTC)


# A change to any of these without a reported cost_usd re-prices the task.
PRICED_FIELDS = frozenset(
    {
        "model",
        "input_tokens",
        "output_tokens",
        "cache_read_tokens",
        "cache_write_tokens",
        "cache_write_1h_tokens",
        "reasoning_tokens",
    }
)

# The priced fields of a task as one tuple: one C call where a generator compared each field
# (called for every change an ingest batch applies).
_priced_fields = operator.attrgetter(*sorted(PRICED_FIELDS))


def priced(before: Task, after: Task, prices: PriceTable | None, cost_reported: bool) -> Task:
    """`after` with the cost the engine should have reported, when it reported none.

    An engine-reported cost wins: it is marked `reported` (and kept as `reported_cost_usd`
    too) and clears the price version and breakdown. Without one, a task whose tokens or model
    changed is priced from the table, unless its cost came from the engine before: a later
    token correction does not override it.
    """
    if cost_reported:
        return msgspec.structs.replace(
            after,
            price_version=None,
            cost_source=CostSource.REPORTED,
            cost_breakdown=None,
            reported_cost_usd=after.cost_usd,
        )
    if prices is None or _priced_fields(before) == _priced_fields(after):
        return after
    if before.cost_source is CostSource.REPORTED or (
        before.cost_source is None and before.price_version is None and before.cost_usd != 0
    ):
        return after
    breakdown = prices.quote(after.model, usage_of(after), after.created_at)
    if breakdown is None:
        return after
    return msgspec.structs.replace(
        after,
        cost_usd=usd(breakdown.total),
        price_version=prices.version,
        cost_source=CostSource.COMPUTED,
        cost_breakdown=breakdown,
    )
