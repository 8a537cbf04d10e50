"""The cost engine: a versioned price table per model, exact to the micro-dollar."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

import msgspec

from dashboard_api.domain.errors import InvalidInput
from dashboard_api.domain.money import usd
from dashboard_api.domain.tasks import Task

_MILLION = Decimal(1_000_000)


class ModelPrice(msgspec.Struct, frozen=True, kw_only=True):
    """USD per million tokens of each kind."""

    input: Decimal
    output: Decimal
    cache_read: Decimal = Decimal(0)
    cache_write: Decimal = Decimal(0)


class PriceTable(msgspec.Struct, frozen=True, kw_only=True):
    version: str
    models: dict[str, ModelPrice]

    @classmethod
    def from_mapping(cls, raw: Mapping[str, object]) -> PriceTable:
        """Validate a parsed price file: `version` and `[models."name"]` with four prices."""
        try:
            table = msgspec.convert(raw, cls, strict=False)
        except (msgspec.ValidationError, InvalidOperation) as exc:
            raise InvalidInput(f"price table: {exc}", field="prices") from exc
        for name, price in table.models.items():
            for kind in ModelPrice.__struct_fields__:
                value: Decimal = getattr(price, kind)
                if not value.is_finite() or value < 0:
                    raise InvalidInput(f"price table: {name}.{kind} is not a price", field=kind)
        return table

    def cost(self, task: Task) -> Decimal | None:
        """What the task's tokens cost on its model, or None when the model has no price."""
        price = self.models.get(task.model or "")
        if price is None:
            return None
        amount = (
            task.input_tokens * price.input
            + task.output_tokens * price.output
            + task.cache_read_tokens * price.cache_read
            + task.cache_write_tokens * price.cache_write
        )
        return usd(amount / _MILLION)


# A change to any of these without a reported cost_usd re-prices the task.
PRICED_FIELDS = frozenset(
    {"model", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens"}
)


def priced(before: Task, after: Task, prices: PriceTable | None, cost_reported: bool) -> Task:
    """`after` with the cost the engine should have reported, when it reported none.

    An engine-reported cost wins and clears the price version. Without one, a task whose
    tokens or model changed is priced from the table, unless its cost came from the engine
    before (no price version, non-zero cost): a later token correction does not override it.
    """
    if cost_reported:
        return msgspec.structs.replace(after, price_version=None)
    if prices is None or all(getattr(before, f) == getattr(after, f) for f in PRICED_FIELDS):
        return after
    if before.price_version is None and before.cost_usd != 0:
        return after
    cost = prices.cost(after)
    if cost is None:
        return after
    return msgspec.structs.replace(after, cost_usd=cost, price_version=prices.version)
