"""Tasks and the indexes keyset pagination needs.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tasks",
        sa.Column("task_id", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("agent_type", sa.String(64), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("assigned_agent", sa.String(128)),
        sa.Column("session_id", sa.String(128)),
        sa.Column("conversation_id", sa.String(128)),
        sa.Column("input_message", sa.Text(), nullable=False),
        sa.Column("output", sa.Text()),
        sa.Column("error", sa.Text()),
        sa.Column("model", sa.String(128)),
        sa.Column("cost_micros", sa.BigInteger(), nullable=False),
        sa.Column("price_version", sa.String(64)),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cache_read_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cache_write_tokens", sa.BigInteger(), nullable=False),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("started_at", DateTimeUTC(timezone=True)),
        sa.Column("completed_at", DateTimeUTC(timezone=True)),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("task_id", name="pk_tasks"),
    )
    for name, column in (
        ("ix_tasks_created_at", None),
        ("ix_tasks_status", "status"),
        ("ix_tasks_agent_type", "agent_type"),
        ("ix_tasks_assigned_agent", "assigned_agent"),
        ("ix_tasks_source", "source"),
        ("ix_tasks_session_id", "session_id"),
        ("ix_tasks_conversation_id", "conversation_id"),
    ):
        leading = [column] if column else []
        op.create_index(name, "tasks", [*leading, "created_at", "task_id"])


def downgrade() -> None:
    op.drop_table("tasks")
