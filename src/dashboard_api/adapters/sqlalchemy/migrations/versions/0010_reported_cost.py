"""A task keeps the cost its engine reported beside the one analytics sum: an OTLP span's
`gen_ai.usage.cost.amount` while the price table prices its tokens (issue 13).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable, no default and no back-fill: adding it rewrites no row (instant on PostgreSQL
    # at any table size); a task written before it shows `reported_cost_usd` as null.
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("reported_cost_micros", sa.BigInteger()))


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("reported_cost_micros")
