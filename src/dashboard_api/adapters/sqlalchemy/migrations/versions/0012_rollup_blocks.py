"""Rollup blocks: figures summed over aligned blocks of 2^k days and 2^k hours.

A read not grouped by time (summary, performance) sums a few blocks per agent type and model
instead of every day row of its range (docs/analytics.md, "Blocks"). Filled here from the
hourly read rows; the compactor and `analytics rebuild` keep them in step from now on, and
`rollup_state.blocked` says up to which generation they do.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# Frozen copies at this revision: the figure columns (revision 0002's duration bounds) and the
# block numbering of rollups/blocks.py.
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
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DAY_LEVELS, _HOUR_LEVELS = 16, 5
_BATCH = 5_000


def _blocks_of_hour(hour: datetime) -> list[int]:
    hours = (hour - _EPOCH) // timedelta(hours=1)
    numbers = [(hours >> k) * 32 + 16 + k for k in range(_HOUR_LEVELS)]
    if 0 <= hours // 24 < 1 << _DAY_LEVELS:
        numbers.extend(((hours // 24) >> k) * 32 + k for k in range(_DAY_LEVELS))
    return numbers


def upgrade() -> None:
    op.create_table(
        "rollup_totals_blocks",
        sa.Column("block", sa.BigInteger(), nullable=False),
        sa.Column("agent_type", sa.String(64), nullable=False),
        sa.Column("model", sa.String(128), nullable=False),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in _FIGURES),
        sa.PrimaryKeyConstraint("block", "agent_type", "model", name="pk_rollup_totals_blocks"),
    )
    hourly = sa.table(
        "rollup_totals_hourly",
        sa.column("hour", DateTimeUTC(timezone=True)),
        sa.column("agent_type"),
        sa.column("model"),
        *(sa.column(name) for name in _FIGURES),
    )
    sums: dict[tuple[int, str, str], list[int]] = defaultdict(lambda: [0] * len(_FIGURES))
    for row in op.get_bind().execute(sa.select(hourly)):
        hour = row.hour if row.hour.tzinfo else row.hour.replace(tzinfo=UTC)
        for block in _blocks_of_hour(hour):
            total = sums[(block, row.agent_type, row.model)]
            for index, name in enumerate(_FIGURES):
                total[index] += int(getattr(row, name))
    blocks = sa.table(
        "rollup_totals_blocks",
        sa.column("block"),
        sa.column("agent_type"),
        sa.column("model"),
        *(sa.column(name) for name in _FIGURES),
    )
    rows = [
        {
            "block": key[0],
            "agent_type": key[1],
            "model": key[2],
            **dict(zip(_FIGURES, values, strict=True)),
        }
        for key, values in sums.items()
        if any(values)
    ]
    for start in range(0, len(rows), _BATCH):
        op.get_bind().execute(sa.insert(blocks), rows[start : start + _BATCH])
    # The blocks hold every compaction up to this generation (a compaction by a process of the
    # previous release, still running, bumps the generation alone: reads then use day and hour
    # rows until this release's compactor refills the blocks).
    with op.batch_alter_table("rollup_state") as batch:
        batch.add_column(sa.Column("blocked", sa.BigInteger(), nullable=False, server_default="0"))
    op.execute("UPDATE rollup_state SET blocked = generation")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ANALYZE rollup_totals_blocks")


def downgrade() -> None:
    with op.batch_alter_table("rollup_state") as batch:
        batch.drop_column("blocked")
    op.drop_table("rollup_totals_blocks")
