"""The relational schema. Alembic migrations create it; these declarations are its source."""

from __future__ import annotations

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import BigInteger, Column, Index, Integer, MetaData, String, Table, Text

from dashboard_api.domain.rollups import DURATION_BOUNDS_SECONDS

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
    Column("task_id", String(128), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("agent_type", String(64), nullable=False),
    Column("source", String(32), nullable=False),
    Column("assigned_agent", String(128)),
    Column("session_id", String(128)),
    Column("conversation_id", String(128)),
    Column("input_message", Text, nullable=False),
    Column("output", Text),
    Column("error", Text),
    Column("model", String(128)),
    # Money as integer micro-dollars: exact sums on every backend, no float or Decimal drift.
    Column("cost_micros", BigInteger, nullable=False),
    Column("price_version", String(64)),
    Column("input_tokens", BigInteger, nullable=False),
    Column("output_tokens", BigInteger, nullable=False),
    Column("cache_read_tokens", BigInteger, nullable=False),
    Column("cache_write_tokens", BigInteger, nullable=False),
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


def _rollup_table(name: str, time_column: str) -> Table:
    return Table(
        name,
        metadata,
        Column(time_column, DateTimeUTC(timezone=True), primary_key=True),
        Column("agent_type", String(64), primary_key=True),
        Column("model", String(128), primary_key=True),  # "" for tasks without a model
        Column("status", String(16), primary_key=True),
        *rollup_figure_columns(),
    )


# Compacted rows. Writers never touch them: they append to rollup_deltas, and the compactor
# folds deltas into these, so concurrent writers never wait on the current hour's row.
rollups_hourly = _rollup_table("rollups_hourly", "hour")
rollups_daily = _rollup_table("rollups_daily", "day")

rollup_deltas = Table(
    "rollup_deltas",
    metadata,
    Column("delta_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("hour", DateTimeUTC(timezone=True), nullable=False),
    Column("day", DateTimeUTC(timezone=True), nullable=False),
    Column("agent_type", String(64), nullable=False),
    Column("model", String(128), nullable=False),
    Column("status", String(16), nullable=False),
    *rollup_figure_columns(),
)

# One row: bumped by every compaction and rebuild, the only transactions that remove deltas.
# With the count of pending deltas (which only grows between compactions) it tells a reader
# whether any rollup changed since it last looked (see CachedRollupReads).
rollup_state = Table(
    "rollup_state",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("generation", BigInteger, nullable=False),
)
