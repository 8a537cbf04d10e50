"""The columns revision 0009 added to a task row: the cost's source as text, its breakdown as
JSON text, the priced token subsets and the task a retry runs again.

The breakdown's amounts stay exact decimal strings in the JSON, so a reader gets back exactly
the parts that were summed (a float would lose them).
"""

from __future__ import annotations

from typing import Any

import msgspec

from dashboard_api.domain.model.cost import CostBreakdown, CostSource
from dashboard_api.domain.model.tasks import Task

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
    }


def cost_source_of(value: str | None) -> CostSource | None:
    return None if value is None else CostSource(value)


def breakdown_of(value: str | bytes | None) -> CostBreakdown | None:
    return None if value is None else _decode(value)
