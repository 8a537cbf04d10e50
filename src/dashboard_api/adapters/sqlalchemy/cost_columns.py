"""The columns revisions 0009 and 0010 added to a task row: the cost's source as text, its
breakdown as JSON text, the priced token subsets, the task a retry runs again and the cost the
engine reported (micro-dollars, beside the one summed).

The breakdown's amounts stay exact decimal strings in the JSON, so a reader gets back exactly
the parts that were summed (a float would lose them).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec

from dashboard_api.domain.model.cost import CostBreakdown, CostSource
from dashboard_api.domain.model.tasks import Task
from dashboard_api.domain.money import from_micros, to_micros

_decode = msgspec.json.Decoder(CostBreakdown).decode


def cost_columns(task: Task) -> dict[str, Any]:
    return {
        "retry_of": task.retry_of,
        "cache_write_1h_tokens": task.cache_write_1h_tokens,
        "reasoning_tokens": task.reasoning_tokens,
        "cost_source": None if task.cost_source is None else task.cost_source.value,
        "cost_breakdown": (
            None
            if task.cost_breakdown is None
            else msgspec.json.encode(task.cost_breakdown).decode()
        ),
        "reported_cost_micros": (
            None if task.reported_cost_usd is None else to_micros(task.reported_cost_usd)
        ),
    }


def cost_source_of(value: str | None) -> CostSource | None:
    return None if value is None else CostSource(value)


def breakdown_of(value: str | bytes | None) -> CostBreakdown | None:
    return None if value is None else _decode(value)


def reported_cost_of(micros: int | None) -> Decimal | None:
    return None if micros is None else from_micros(micros)
