"""What a task's cost is made of: the usage billed, its breakdown and where the figure came from."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal
from enum import StrEnum

import msgspec

from dashboard_api.domain.money import MICRO


class CostSource(StrEnum):
    """`reported`: the engine sent the amount. `computed`: priced here from the price table."""

    REPORTED = "reported"
    COMPUTED = "computed"


class Usage(msgspec.Struct, frozen=True, kw_only=True):
    """Tokens of one request as providers bill them.

    `input`, `cache_read` and `cache_write` are disjoint (Anthropic's convention; an engine
    reporting OpenAI's `prompt_tokens` subtracts the cached ones). `cache_write_1h` is the part
    of `cache_write` written with a one-hour lifetime, `reasoning` the part of `output` spent
    thinking: both are subsets, as Anthropic and OpenAI report them.
    """

    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_write: int = 0
    cache_write_1h: int = 0
    reasoning: int = 0

    @property
    def prompt_tokens(self) -> int:
        """Everything the model read: what the long-context tiers are conditioned on."""
        return self.input + self.cache_read + self.cache_write


class CostBreakdown(msgspec.Struct, frozen=True, kw_only=True, gc=False):  # scalars: as Task
    """USD per usage type, in micro-dollars, and the price that produced them.

    The total is the exact sum rounded once (half-even) to the micro-dollar; the parts are
    rounded so that they add up to that total exactly (largest remainder), each within one
    micro-dollar of its exact amount. A bill that shows the parts adds up.
    """

    input: Decimal
    output: Decimal
    reasoning: Decimal
    cache_read: Decimal
    cache_write_5m: Decimal
    cache_write_1h: Decimal
    pattern: str
    effective_from: datetime | None
    tier_above_prompt_tokens: int | None = None

    @property
    def total(self) -> Decimal:
        return (
            self.input
            + self.output
            + self.reasoning
            + self.cache_read
            + self.cache_write_5m
            + self.cache_write_1h
        )


def apportion(exact: dict[str, Decimal]) -> dict[str, Decimal]:
    """Round non-negative exact amounts to micro-dollars so that they sum to their rounded total."""
    total = sum(exact.values(), Decimal(0)).quantize(MICRO, rounding=ROUND_HALF_EVEN)
    floors = {kind: amount.quantize(MICRO, rounding=ROUND_DOWN) for kind, amount in exact.items()}
    missing = int((total - sum(floors.values(), Decimal(0))) / MICRO)
    by_remainder = sorted(exact, key=lambda kind: exact[kind] - floors[kind], reverse=True)
    for kind in by_remainder[:missing]:
        floors[kind] += MICRO
    return floors
