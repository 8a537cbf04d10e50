"""How a report from an engine that is not ours becomes a task change, whatever its order.

The groote-ai engine reports one task three ways (its event stream, its REST calls, a pub/sub
note) that arrive in any order, with one-second timestamps. A report therefore only moves a
task forward and fills what is missing: a finished task keeps how it finished, a truncated
copy of the output never replaces the whole, and times are kept in lifecycle order.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import msgspec

from dashboard_api.domain.errors import InvalidInput
from dashboard_api.domain.model.tasks import Task, TaskPatch, TaskStatus
from dashboard_api.domain.money import usd

MAX_COST_USD = Decimal("1000000")
MAX_TOKENS = 10**12


class EngineReport(msgspec.Struct, kw_only=True, frozen=True):
    """What one report says about a task; None: it does not say."""

    status: TaskStatus | None = None
    output: str | None = None
    error: str | None = None
    cost_usd: Decimal | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    duration_seconds: float | None = None
    session_id: str | None = None
    conversation_id: str | None = None
    assigned_agent: str | None = None


def report_patch(current: Task, report: EngineReport, moment: datetime) -> TaskPatch | None:
    """The change `report`, received at `moment`, makes to `current`; None when none."""
    status = report.status
    if status is not None and current.status.is_terminal and status != current.status:
        return None  # a finished task keeps how it finished; a late "running" changes nothing
    changes: dict[str, Any] = {}
    if status is not None and status != current.status:
        changes["status"] = status
        if status is TaskStatus.RUNNING:
            changes["started_at"] = max(moment, current.created_at)
        if status.is_terminal:
            end = max(moment, current.started_at or current.created_at)
            changes["completed_at"] = end
            if current.started_at is None and report.duration_seconds:
                start = end - timedelta(seconds=max(report.duration_seconds, 0.0))
                changes["started_at"] = max(start, current.created_at)
    if report.output is not None and not _covers(current.output, report.output):
        changes["output"] = report.output
    if report.error is not None and report.error != current.error:
        changes["error"] = report.error
    if report.cost_usd is not None and usd(report.cost_usd) != current.cost_usd:
        changes["cost_usd"] = report.cost_usd
    for name in ("input_tokens", "output_tokens"):
        value = getattr(report, name)
        if value is not None and value != getattr(current, name):
            changes[name] = value
    for name in ("session_id", "conversation_id", "assigned_agent"):
        value = getattr(report, name)
        if value is not None and getattr(current, name) is None:
            changes[name] = value
    return TaskPatch(**changes) if changes else None


def _covers(kept: str | None, new: str) -> bool:
    # The engine sends its final output whole on the stream and cut to 10,000 characters
    # over REST: whichever comes second, the whole one stays.
    return kept is not None and len(kept) >= len(new) and kept.startswith(new)


def cost_of(value: Any, *, field: str = "cost_usd") -> Decimal | None:
    """A reported cost (a JSON number or numeric text) as an exact decimal, checked."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise InvalidInput("cost_usd is not a number", field=field)
    try:
        cost = Decimal(str(value))
    except InvalidOperation as exc:
        raise InvalidInput("cost_usd is not a number", field=field) from exc
    if not cost.is_finite() or not 0 <= cost <= MAX_COST_USD:
        raise InvalidInput(f"cost_usd must be between 0 and {MAX_COST_USD}", field=field)
    return cost


def tokens_of(value: Any, *, field: str) -> int | None:
    """A reported token count, checked (floats with no fraction are accepted)."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_TOKENS:
        raise InvalidInput(f"{field} must be a count between 0 and {MAX_TOKENS}", field=field)
    return value
