"""Widen `tasks.source` to the 64 characters the API has always accepted.

The API took 64 characters and the column held 32: SQLite (which ignores lengths) stored the
longer names, PostgreSQL refused them with a 500. The limits now live in `domain/limits.py`,
read by the API and by `tables.py`; a migration keeps a frozen copy of the number.
On PostgreSQL widening a VARCHAR is a catalog change (no table rewrite, indexes kept); on SQLite
batch mode re-creates the table.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.alter_column(
            "source", type_=sa.String(64), existing_type=sa.String(32), existing_nullable=False
        )


def downgrade() -> None:
    # Names longer than 32 characters would not fit back: cut them, as the old column would.
    op.execute(sa.text("UPDATE tasks SET source = substr(source, 1, 32)"))
    with op.batch_alter_table("tasks") as batch:
        batch.alter_column(
            "source", type_=sa.String(32), existing_type=sa.String(64), existing_nullable=False
        )
