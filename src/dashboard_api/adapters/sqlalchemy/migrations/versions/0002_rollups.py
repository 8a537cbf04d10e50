"""Analytics rollups: hourly and daily rows per agent type, model and status, and their deltas.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Frozen copy of the duration bucket bounds at this revision (seconds).
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


def _figures() -> list[sa.Column[int]]:
    return [sa.Column(name, sa.BigInteger(), nullable=False) for name in _FIGURES]


def upgrade() -> None:
    for table, time_column in (("rollups_hourly", "hour"), ("rollups_daily", "day")):
        op.create_table(
            table,
            sa.Column(time_column, DateTimeUTC(timezone=True), nullable=False),
            sa.Column("agent_type", sa.String(64), nullable=False),
            sa.Column("model", sa.String(128), nullable=False),
            sa.Column("status", sa.String(16), nullable=False),
            *_figures(),
            sa.PrimaryKeyConstraint(
                time_column, "agent_type", "model", "status", name=f"pk_{table}"
            ),
        )
    op.create_table(
        "rollup_deltas",
        sa.Column(
            "delta_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
            autoincrement=True,
        ),
        sa.Column("hour", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("day", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("agent_type", sa.String(64), nullable=False),
        sa.Column("model", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        *_figures(),
        sa.PrimaryKeyConstraint("delta_id", name="pk_rollup_deltas"),
    )
    state = op.create_table(
        "rollup_state",
        sa.Column("id", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_rollup_state"),
    )
    op.bulk_insert(state, [{"id": 1, "generation": 0}])


def downgrade() -> None:
    op.drop_table("rollup_state")
    op.drop_table("rollup_deltas")
    op.drop_table("rollups_daily")
    op.drop_table("rollups_hourly")
