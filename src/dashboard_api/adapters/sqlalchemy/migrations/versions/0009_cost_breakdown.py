"""Costs keep where they came from and their breakdown; the priced token subsets; retries;
fired alerts and their delivery attempts; messages indexed by time for retention; hourly
spend per user, conversation and source (no back-fill: `analytics rebuild` does not fill it).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

from dashboard_api.domain.limits import LABEL_CHARS

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(
            sa.Column("cache_write_1h_tokens", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("reasoning_tokens", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("cost_source", sa.String(16)))
        batch.add_column(sa.Column("cost_breakdown", sa.Text()))
        batch.add_column(sa.Column("retry_of", sa.String(128)))
    op.create_table(
        "alerts",
        sa.Column("alert_id", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("fired_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("alert_id", name="pk_alerts"),
    )
    op.create_index("ix_alerts_fired_at", "alerts", ["fired_at", "alert_id"])
    op.create_table(
        "alert_deliveries",
        sa.Column("alert_id", sa.String(200), nullable=False),
        sa.Column("endpoint", sa.String(128), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("status_code", sa.Integer()),
        sa.Column("error", sa.Text()),
        sa.PrimaryKeyConstraint("alert_id", "endpoint", "attempt", name="pk_alert_deliveries"),
    )
    op.create_table(
        "spend_hourly",
        sa.Column("dimension", sa.String(16), nullable=False),
        sa.Column("key", sa.String(LABEL_CHARS), nullable=False),
        sa.Column("hour", DateTimeUTC(timezone=True), nullable=False),
        *(
            sa.Column(name, sa.BigInteger(), nullable=False)
            for name in ("tasks", "cost_micros", "input_tokens", "output_tokens")
        ),
        sa.PrimaryKeyConstraint("dimension", "key", "hour", name="pk_spend_hourly"),
    )
    op.create_index("ix_spend_hourly_hour", "spend_hourly", ["dimension", "hour"])
    op.create_index("ix_messages_created_at", "messages", ["created_at", "message_id"])
    # No back-fill (an UPDATE of every task would lock the table for minutes at 10M rows):
    # a task written before this shows the source its price version implies (pricing.source_of).


def downgrade() -> None:
    op.drop_index("ix_messages_created_at", table_name="messages")
    op.drop_index("ix_spend_hourly_hour", table_name="spend_hourly")
    op.drop_table("spend_hourly")
    op.drop_table("alert_deliveries")
    op.drop_index("ix_alerts_fired_at", table_name="alerts")
    op.drop_table("alerts")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("retry_of")
        batch.drop_column("cost_breakdown")
        batch.drop_column("cost_source")
        batch.drop_column("reasoning_tokens")
        batch.drop_column("cache_write_1h_tokens")
