"""Rollup read tables: the hourly and daily figures summed over statuses.

No answer groups by status, so reads sum these (a third of the rows of the tables by status,
which stay the record per agent type, model and status). Filled here from the existing rows;
the compactor and `analytics rebuild` keep both in step from now on.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# Frozen copy of the figure columns at this revision (the duration bounds of revision 0002).
_BOUNDS = (1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400)
_FIGURES = (
    "tasks",
    "completed",
    "failed",
    "finished",
    "cost_micros",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "duration_micros",
    *(f"durations_le_{bound}s" for bound in _BOUNDS),
    f"durations_over_{_BOUNDS[-1]}s",
)
_TABLES = (
    ("rollup_totals_hourly", "rollups_hourly", "hour"),
    ("rollup_totals_daily", "rollups_daily", "day"),
)


def upgrade() -> None:
    for table, source, time_column in _TABLES:
        op.create_table(
            table,
            sa.Column(time_column, DateTimeUTC(timezone=True), nullable=False),
            sa.Column("agent_type", sa.String(64), nullable=False),
            sa.Column("model", sa.String(128), nullable=False),
            *(sa.Column(name, sa.BigInteger(), nullable=False) for name in _FIGURES),
            sa.PrimaryKeyConstraint(time_column, "agent_type", "model", name=f"pk_{table}"),
        )
        columns = ", ".join(_FIGURES)
        sums = ", ".join(f"CAST(sum({name}) AS BIGINT)" for name in _FIGURES)
        op.execute(
            f"INSERT INTO {table} ({time_column}, agent_type, model, {columns}) "
            f"SELECT {time_column}, agent_type, model, {sums} FROM {source} "
            f"GROUP BY {time_column}, agent_type, model"
        )


def downgrade() -> None:
    for table, _, _ in reversed(_TABLES):
        op.drop_table(table)
