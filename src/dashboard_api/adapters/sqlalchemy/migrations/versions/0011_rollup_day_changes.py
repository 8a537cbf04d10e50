"""Rollup versions per day: cached analytics answers survive changes to other days.

`rollup_day_changes` counts, per UTC day, the deltas the compactor folded; with the deltas still
pending it gives every day range a number that grows with each committed change to a task
created in it and that compaction leaves alone (docs/analytics.md, "Cached answers").
`rollup_state.rebuilds` moves only with `analytics rebuild`; `rollup_state.counted` with every
compaction of this release, so `generation - counted` counts compactions by a process of the
previous release (which fold deltas without counting them) during a rolling upgrade. No
back-fill: a count starts at 0.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rollup_day_changes",
        sa.Column("day", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("changes", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", name="pk_rollup_day_changes"),
    )
    with op.batch_alter_table("rollup_state") as batch:
        batch.add_column(sa.Column("rebuilds", sa.BigInteger(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("counted", sa.BigInteger(), nullable=False, server_default="0"))
    op.execute("UPDATE rollup_state SET counted = generation")


def downgrade() -> None:
    with op.batch_alter_table("rollup_state") as batch:
        batch.drop_column("counted")
        batch.drop_column("rebuilds")
    op.drop_table("rollup_day_changes")
