"""The relational schema. Alembic migrations create it; these declarations are its source."""

from __future__ import annotations

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

from dashboard_api.domain.limits import (
    ENDPOINT_CHARS,
    EXTERNAL_REF_CHARS,
    ID_CHARS,
    KIND_CHARS,
    LABEL_CHARS,
    NAME_CHARS,
    PRICE_VERSION_CHARS,
    STATUS_CHARS,
    TITLE_CHARS,
)
from dashboard_api.domain.model.rollups import DURATION_BOUNDS_SECONDS

# Stable constraint names, so migrations can refer to them on every backend.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

tasks = Table(
    "tasks",
    metadata,
    Column("task_id", String(ID_CHARS), primary_key=True),
    Column("status", String(STATUS_CHARS), nullable=False),
    Column("agent_type", String(NAME_CHARS), nullable=False),
    Column("source", String(NAME_CHARS), nullable=False),
    Column("assigned_agent", String(LABEL_CHARS)),
    Column("session_id", String(LABEL_CHARS)),
    Column("conversation_id", String(ID_CHARS)),
    Column("input_message", Text, nullable=False),
    Column("output", Text),
    Column("error", Text),
    Column("model", String(LABEL_CHARS)),
    # Money as integer micro-dollars: exact sums on every backend, no float or Decimal drift.
    Column("cost_micros", BigInteger, nullable=False),
    Column("price_version", String(PRICE_VERSION_CHARS)),
    Column("input_tokens", BigInteger, nullable=False),
    Column("output_tokens", BigInteger, nullable=False),
    Column("cache_read_tokens", BigInteger, nullable=False),
    Column("cache_write_tokens", BigInteger, nullable=False),
    # Revision 0009: the priced subsets and where the cost came from, with its breakdown (JSON).
    Column("cache_write_1h_tokens", BigInteger, nullable=False, server_default="0"),
    Column("reasoning_tokens", BigInteger, nullable=False, server_default="0"),
    Column("cost_source", String(16)),
    Column("cost_breakdown", Text),
    Column("retry_of", String(128)),
    # Revision 0010: the cost the engine reported, beside the one summed (NULL: none reported).
    Column("reported_cost_micros", BigInteger),
    Column("created_at", DateTimeUTC(timezone=True), nullable=False),
    Column("started_at", DateTimeUTC(timezone=True)),
    Column("completed_at", DateTimeUTC(timezone=True)),
    Column("version", Integer, nullable=False),
)

# Every list filter has an index that ends in the keyset order (created_at, task_id), so a page
# is an index range scan wherever it starts: page 10,000 costs what page 1 costs.
KEYSET_INDEXES = (
    Index("ix_tasks_created_at", tasks.c.created_at, tasks.c.task_id),
    Index("ix_tasks_status", tasks.c.status, tasks.c.created_at, tasks.c.task_id),
    Index("ix_tasks_agent_type", tasks.c.agent_type, tasks.c.created_at, tasks.c.task_id),
    Index("ix_tasks_assigned_agent", tasks.c.assigned_agent, tasks.c.created_at, tasks.c.task_id),
    Index("ix_tasks_source", tasks.c.source, tasks.c.created_at, tasks.c.task_id),
    Index("ix_tasks_session_id", tasks.c.session_id, tasks.c.created_at, tasks.c.task_id),
    Index("ix_tasks_conversation_id", tasks.c.conversation_id, tasks.c.created_at, tasks.c.task_id),
)


def rollup_figure_columns() -> list[Column[int]]:
    """The summed figures every rollup table carries (money in micro-dollars, time in µs)."""
    names = [
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
        *DURATION_COLUMNS,
    ]
    return [Column(name, BigInteger, nullable=False) for name in names]


# One column per duration histogram bucket: plain integers sum alike on SQLite and PostgreSQL.
DURATION_COLUMNS = tuple(
    [f"durations_le_{bound}s" for bound in DURATION_BOUNDS_SECONDS]
    + [f"durations_over_{DURATION_BOUNDS_SECONDS[-1]}s"]
)


def _rollup_table(name: str, time_column: str, *, by_status: bool = True) -> Table:
    return Table(
        name,
        metadata,
        Column(time_column, DateTimeUTC(timezone=True), primary_key=True),
        Column("agent_type", String(NAME_CHARS), primary_key=True),
        Column("model", String(LABEL_CHARS), primary_key=True),  # "" for tasks without a model
        *([Column("status", String(STATUS_CHARS), primary_key=True)] if by_status else []),
        *rollup_figure_columns(),
    )


# Compacted rows. Writers never touch them: they append to rollup_deltas, and the compactor
# folds deltas into these, so concurrent writers never wait on the current hour's row.
rollups_hourly = _rollup_table("rollups_hourly", "hour")
rollups_daily = _rollup_table("rollups_daily", "day")
# The same figures summed over statuses, which no answer groups by: what reads sum, a third of
# the rows (revision 0006). The compactor and the rebuild keep both in step.
rollup_totals_hourly = _rollup_table("rollup_totals_hourly", "hour", by_status=False)
rollup_totals_daily = _rollup_table("rollup_totals_daily", "day", by_status=False)

rollup_deltas = Table(
    "rollup_deltas",
    metadata,
    Column("delta_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("hour", DateTimeUTC(timezone=True), nullable=False),
    Column("day", DateTimeUTC(timezone=True), nullable=False),
    Column("agent_type", String(NAME_CHARS), nullable=False),
    Column("model", String(LABEL_CHARS), nullable=False),
    Column("status", String(STATUS_CHARS), nullable=False),
    *rollup_figure_columns(),
)

# One row. `generation` is bumped by every compaction and rebuild (the transactions that remove
# deltas; the watermark of the previous release, kept while one may still run beside this one);
# `counted` with it by this release's (which count the deltas they fold); `rebuilds` by rebuilds
# only (revision 0011). `rebuilds + generation - counted` is the epoch of the rollup versions.
rollup_state = Table(
    "rollup_state",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("generation", BigInteger, nullable=False),
    Column("rebuilds", BigInteger, nullable=False, server_default="0"),
    Column("counted", BigInteger, nullable=False, server_default="0"),
    # The generation up to which every compaction also added to rollup_totals_blocks (revision
    # 0012): a compaction by a release before it bumps the generation alone, and block reads
    # stand aside (they read day and hour rows) until a compaction of this release refills them.
    Column("blocked", BigInteger, nullable=False, server_default="0"),
)

# The figures summed over aligned blocks of 2^k days (k = 0..15) and of 2^k hours (k = 0..4),
# per agent type and model (revision 0012; rollups/blocks.py numbers them): a read not grouped
# by time sums a handful of blocks instead of every day and hour row of its range (30 days:
# ~4 blocks per group instead of 30 day rows). The compactor and the rebuild keep them in step.
rollup_totals_blocks = Table(
    "rollup_totals_blocks",
    metadata,
    Column("block", BigInteger, primary_key=True),
    Column("agent_type", String(NAME_CHARS), primary_key=True),
    Column("model", String(LABEL_CHARS), primary_key=True),
    *rollup_figure_columns(),
)

# Per UTC day, the deltas the compactor folded (in the transaction that removes them): plus the
# deltas still pending, a count per day range that grows with every committed change to a task
# created in it and that compaction leaves alone, so answers over other days stay cached.
rollup_day_changes = Table(
    "rollup_day_changes",
    metadata,
    Column("day", DateTimeUTC(timezone=True), primary_key=True),
    Column("changes", BigInteger, nullable=False),
)

# --- Conversations, hand-offs, webhooks, data sources, OAuth status (revision 0004) ---

conversations = Table(
    "conversations",
    metadata,
    Column("conversation_id", String(ID_CHARS), primary_key=True),
    Column("title", String(TITLE_CHARS), nullable=False),
    Column("agent_type", String(NAME_CHARS), nullable=False),
    Column("user_id", String(LABEL_CHARS)),
    Column("archived", Boolean, nullable=False),
    Column("created_at", DateTimeUTC(timezone=True), nullable=False),
    Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
    # Totals are changed by increments in place (never read-modify-write), so concurrent
    # messages and task reports cannot lose each other's updates.
    Column("message_count", BigInteger, nullable=False),
    Column("task_count", BigInteger, nullable=False),
    Column("cost_micros", BigInteger, nullable=False),
    Column("input_tokens", BigInteger, nullable=False),
    Column("output_tokens", BigInteger, nullable=False),
    Index("ix_conversations_updated_at", "updated_at", "conversation_id"),
    Index("ix_conversations_user_id", "user_id", "updated_at", "conversation_id"),
    Index("ix_conversations_archived", "archived", "updated_at", "conversation_id"),
)

messages = Table(
    "messages",
    metadata,
    Column("message_id", String(ID_CHARS), primary_key=True),
    Column(
        "conversation_id",
        String(ID_CHARS),
        ForeignKey("conversations.conversation_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("role", String(STATUS_CHARS), nullable=False),
    Column("content", Text, nullable=False),
    Column("task_id", String(ID_CHARS)),
    Column("created_at", DateTimeUTC(timezone=True), nullable=False),
    Index("ix_messages_conversation_id", "conversation_id", "created_at", "message_id"),
    Index("ix_messages_created_at", "created_at", "message_id"),  # retention (revision 0009)
)

handoff_outbox = Table(
    "handoff_outbox",
    metadata,
    Column("entry_id", String(ID_CHARS), primary_key=True),
    Column("queue", String(LABEL_CHARS), nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at", DateTimeUTC(timezone=True), nullable=False),
    Index("ix_handoff_outbox_created_at", "created_at", "entry_id"),
)

webhook_events = Table(
    "webhook_events",
    metadata,
    Column("event_id", String(ID_CHARS), primary_key=True),
    Column("webhook_id", String(ID_CHARS), nullable=False),
    Column("provider", String(NAME_CHARS), nullable=False),
    Column("event_type", String(LABEL_CHARS), nullable=False),
    Column("status", String(STATUS_CHARS), nullable=False),
    Column("http_status", Integer),
    Column("latency_ms", BigInteger),
    Column("task_id", String(ID_CHARS)),
    Column("error", Text),
    Column("payload", Text),
    Column("created_at", DateTimeUTC(timezone=True), nullable=False),
    Index("ix_webhook_events_created_at", "created_at", "event_id"),
    Index("ix_webhook_events_webhook_id", "webhook_id", "created_at", "event_id"),
    Index("ix_webhook_events_provider", "provider", "created_at", "event_id"),
    Index("ix_webhook_events_status", "status", "created_at", "event_id"),
)

LATENCY_COLUMNS = tuple(f"latency_{i}" for i in range(12))

webhook_rollups = Table(
    "webhook_rollups",
    metadata,
    Column("span", String(8), nullable=False),
    Column("bucket_start", DateTimeUTC(timezone=True), nullable=False),
    Column("webhook_id", String(ID_CHARS), nullable=False),
    Column("provider", String(NAME_CHARS), nullable=False),
    Column("status", String(STATUS_CHARS), nullable=False),
    Column("shard", Integer, nullable=False),
    Column("events", BigInteger, nullable=False),
    Column("last_received_at", DateTimeUTC(timezone=True)),
    *(Column(name, BigInteger, nullable=False) for name in LATENCY_COLUMNS),
    # Leading (span, bucket_start): a window is one range scan of the primary key.
    PrimaryKeyConstraint("span", "bucket_start", "webhook_id", "provider", "status", "shard"),
)

webhook_configs = Table(
    "webhook_configs",
    metadata,
    Column("webhook_id", String(ID_CHARS), primary_key=True),
    Column("name", String(TITLE_CHARS), nullable=False),
    Column("provider", String(NAME_CHARS), nullable=False),
    Column("endpoint", String(ENDPOINT_CHARS), nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("has_secret", Boolean, nullable=False),
)

data_sources = Table(
    "data_sources",
    metadata,
    Column("source_id", String(ID_CHARS), primary_key=True),
    Column("kind", String(KIND_CHARS), nullable=False),
    Column("name", String(TITLE_CHARS), nullable=False),
    Column("external_ref", String(EXTERNAL_REF_CHARS), nullable=False),
    Column("created_at", DateTimeUTC(timezone=True), nullable=False),
    Column("version", Integer, nullable=False),
    Column("sync_job_id", String(ID_CHARS)),
    Column("sync_status", String(STATUS_CHARS)),
    Column("sync_requested_at", DateTimeUTC(timezone=True)),
    Column("sync_started_at", DateTimeUTC(timezone=True)),
    Column("sync_finished_at", DateTimeUTC(timezone=True)),
    Column("sync_documents", BigInteger),
    Column("sync_error", Text),
    Index("ix_data_sources_created_at", "created_at", "source_id"),
)

oauth_installations = Table(
    "oauth_installations",
    metadata,
    Column("platform", String(NAME_CHARS), primary_key=True),
    Column("connected", Boolean, nullable=False),
    Column("scopes", Text, nullable=False),  # space-separated, as OAuth writes scopes
    Column("account", String(TITLE_CHARS)),
    Column("installed_at", DateTimeUTC(timezone=True)),
    Column("token_expires_at", DateTimeUTC(timezone=True)),
    Column("updated_at", DateTimeUTC(timezone=True)),
)

# Engine events already applied: an event id is recorded in the transaction that applies it.
processed_events = Table(
    "processed_events",
    metadata,
    Column("event_id", String(ID_CHARS), primary_key=True),
    Column("processed_at", DateTimeUTC(timezone=True), nullable=False),
)
# Retention deletes the oldest marks; without this index each pass would scan them all.
Index("ix_processed_events_processed_at", processed_events.c.processed_at)


# Revision 0009: fired alerts (the primary key is what makes an alert fire once across replicas
# and restarts) and every delivery attempt to an outgoing webhook.
alerts = Table(
    "alerts",
    metadata,
    Column("alert_id", String(200), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("fired_at", DateTimeUTC(timezone=True), nullable=False),
    Column("body", Text, nullable=False),
    Index("ix_alerts_fired_at", "fired_at", "alert_id"),
)

alert_deliveries = Table(
    "alert_deliveries",
    metadata,
    Column("alert_id", String(200), nullable=False),
    Column("endpoint", String(128), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("at", DateTimeUTC(timezone=True), nullable=False),
    Column("status_code", Integer),
    Column("error", Text),
    PrimaryKeyConstraint("alert_id", "endpoint", "attempt"),
)


# Revision 0009: hourly spend per user, conversation and source (domain/spend.py), kept in the
# task's transaction like the rollups.
spend_hourly = Table(
    "spend_hourly",
    metadata,
    Column("dimension", String(16), nullable=False),
    Column("key", String(LABEL_CHARS), nullable=False),
    Column("hour", DateTimeUTC(timezone=True), nullable=False),
    Column("tasks", BigInteger, nullable=False),
    Column("cost_micros", BigInteger, nullable=False),
    Column("input_tokens", BigInteger, nullable=False),
    Column("output_tokens", BigInteger, nullable=False),
    PrimaryKeyConstraint("dimension", "key", "hour"),
    Index("ix_spend_hourly_hour", "dimension", "hour"),
)


# Engine adapters (groote-ai): the outside thread a conversation follows, found by its flow id,
# and what the engine said about a task's origin (domain/origins.py). JSON as text, as elsewhere.
conversation_flows = Table(
    "conversation_flows",
    metadata,
    Column("flow_id", String(256), primary_key=True),
    Column("conversation_id", String(128), nullable=False),
    Column("source", String(64)),
    Column("metadata", Text),
    Column("created_at", DateTimeUTC(timezone=True), nullable=False),
)

task_origins = Table(
    "task_origins",
    metadata,
    Column("task_id", String(128), primary_key=True),
    Column("flow_id", String(256)),
    Column("source_metadata", Text),
)
