"""Flows of conversations and origins of tasks, for engine adapters (groote-ai).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "conversation_flows",
        sa.Column("flow_id", sa.String(256), nullable=False),
        sa.Column("conversation_id", sa.String(128), nullable=False),
        sa.Column("source", sa.String(64)),
        sa.Column("metadata", sa.Text()),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("flow_id", name="pk_conversation_flows"),
    )
    op.create_table(
        "task_origins",
        sa.Column("task_id", sa.String(128), nullable=False),
        sa.Column("flow_id", sa.String(256)),
        sa.Column("source_metadata", sa.Text()),
        sa.PrimaryKeyConstraint("task_id", name="pk_task_origins"),
    )


def downgrade() -> None:
    op.drop_table("task_origins")
    op.drop_table("conversation_flows")
