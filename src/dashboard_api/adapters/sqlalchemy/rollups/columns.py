"""The rollup tables' columns and their mapping to figures: shared by the store, the compactor
and the rebuild."""

from __future__ import annotations

from typing import Any

from dashboard_api.adapters.sqlalchemy.tables import DURATION_COLUMNS, tasks
from dashboard_api.domain.model.rollups import (
    Figures,
    RollupKey,
)

SCALAR_FIGURES = tuple(name for name in Figures.__struct_fields__ if name != "durations")


FIGURE_COLUMNS = (*SCALAR_FIGURES, *DURATION_COLUMNS)


KEY_COLUMNS = ("agent_type", "model", "status")


TOTAL_KEY_COLUMNS = ("agent_type", "model")  # the read tables' key, without status
# What a task's rollup figures are computed from (`task_of` over these columns): read by the
# rebuild and for the partial edge hours of a window.
TASK_FIGURE_COLUMNS = (
    tasks.c.task_id,
    tasks.c.status,
    tasks.c.agent_type,
    tasks.c.model,
    tasks.c.created_at,
    tasks.c.completed_at,
    tasks.c.cost_micros,
    tasks.c.input_tokens,
    tasks.c.output_tokens,
    tasks.c.cache_read_tokens,
    tasks.c.cache_write_tokens,
)


def figure_values(figures: Figures) -> dict[str, int]:
    values = {name: getattr(figures, name) for name in SCALAR_FIGURES}
    values.update(zip(DURATION_COLUMNS, figures.durations, strict=True))
    return values


def figures_of(row: Any) -> Figures:
    mapping = row._mapping
    return Figures(
        **{name: int(mapping[name]) for name in SCALAR_FIGURES},
        durations=tuple(int(mapping[name]) for name in DURATION_COLUMNS),
    )


def key_of(row: Any, time_column: str) -> RollupKey:
    return RollupKey(row._mapping[time_column], row.agent_type, row.model, row.status)
