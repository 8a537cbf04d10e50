"""Conversations and messages, the hand-off outbox, webhook events and rollups, webhook configs,
data sources and OAuth installation status.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _time(name: str, *, nullable: bool = True) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, DateTimeUTC(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "conversations",
        sa.Column("conversation_id", sa.String(128), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("agent_type", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(128)),
        sa.Column("archived", sa.Boolean(), nullable=False),
        _time("created_at", nullable=False),
        _time("updated_at", nullable=False),
        sa.Column("message_count", sa.BigInteger(), nullable=False),
        sa.Column("task_count", sa.BigInteger(), nullable=False),
        sa.Column("cost_micros", sa.BigInteger(), nullable=False),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("conversation_id", name="pk_conversations"),
    )
    op.create_index(
        "ix_conversations_updated_at", "conversations", ["updated_at", "conversation_id"]
    )
    for column in ("user_id", "archived"):
        op.create_index(
            f"ix_conversations_{column}", "conversations", [column, "updated_at", "conversation_id"]
        )

    op.create_table(
        "messages",
        sa.Column("message_id", sa.String(128), nullable=False),
        sa.Column("conversation_id", sa.String(128), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("task_id", sa.String(128)),
        _time("created_at", nullable=False),
        sa.PrimaryKeyConstraint("message_id", name="pk_messages"),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.conversation_id"],
            name="fk_messages_conversation_id_conversations",
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "ix_messages_conversation_id", "messages", ["conversation_id", "created_at", "message_id"]
    )

    op.create_table(
        "handoff_outbox",
        sa.Column("entry_id", sa.String(128), nullable=False),
        sa.Column("queue", sa.String(128), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        _time("created_at", nullable=False),
        sa.PrimaryKeyConstraint("entry_id", name="pk_handoff_outbox"),
    )
    op.create_index("ix_handoff_outbox_created_at", "handoff_outbox", ["created_at", "entry_id"])

    op.create_table(
        "webhook_events",
        sa.Column("event_id", sa.String(128), nullable=False),
        sa.Column("webhook_id", sa.String(128), nullable=False),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("event_type", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("http_status", sa.Integer()),
        sa.Column("latency_ms", sa.BigInteger()),
        sa.Column("task_id", sa.String(128)),
        sa.Column("error", sa.Text()),
        sa.Column("payload", sa.Text()),
        _time("created_at", nullable=False),
        sa.PrimaryKeyConstraint("event_id", name="pk_webhook_events"),
    )
    op.create_index("ix_webhook_events_created_at", "webhook_events", ["created_at", "event_id"])
    for column in ("webhook_id", "provider", "status"):
        op.create_index(
            f"ix_webhook_events_{column}", "webhook_events", [column, "created_at", "event_id"]
        )

    op.create_table(
        "webhook_rollups",
        sa.Column("span", sa.String(8), nullable=False),
        _time("bucket_start", nullable=False),
        sa.Column("webhook_id", sa.String(128), nullable=False),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("shard", sa.Integer(), nullable=False),
        sa.Column("events", sa.BigInteger(), nullable=False),
        _time("last_received_at"),
        *(sa.Column(f"latency_{i}", sa.BigInteger(), nullable=False) for i in range(12)),
        sa.PrimaryKeyConstraint(
            "span",
            "bucket_start",
            "webhook_id",
            "provider",
            "status",
            "shard",
            name="pk_webhook_rollups",
        ),
    )

    op.create_table(
        "webhook_configs",
        sa.Column("webhook_id", sa.String(128), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("endpoint", sa.String(512), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("has_secret", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("webhook_id", name="pk_webhook_configs"),
    )

    op.create_table(
        "data_sources",
        sa.Column("source_id", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("external_ref", sa.String(300), nullable=False),
        _time("created_at", nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("sync_job_id", sa.String(128)),
        sa.Column("sync_status", sa.String(16)),
        _time("sync_requested_at"),
        _time("sync_started_at"),
        _time("sync_finished_at"),
        sa.Column("sync_documents", sa.BigInteger()),
        sa.Column("sync_error", sa.Text()),
        sa.PrimaryKeyConstraint("source_id", name="pk_data_sources"),
    )
    op.create_index("ix_data_sources_created_at", "data_sources", ["created_at", "source_id"])

    op.create_table(
        "oauth_installations",
        sa.Column("platform", sa.String(64), nullable=False),
        sa.Column("connected", sa.Boolean(), nullable=False),
        sa.Column("scopes", sa.Text(), nullable=False),
        sa.Column("account", sa.String(200)),
        _time("installed_at"),
        _time("token_expires_at"),
        _time("updated_at"),
        sa.PrimaryKeyConstraint("platform", name="pk_oauth_installations"),
    )


def downgrade() -> None:
    for table in (
        "oauth_installations",
        "data_sources",
        "webhook_configs",
        "webhook_rollups",
        "webhook_events",
        "handoff_outbox",
        "messages",
        "conversations",
    ):
        op.drop_table(table)
