"""The relational schema. Alembic migrations create it; these declarations are its source."""

from __future__ import annotations

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import BigInteger, Column, Index, Integer, MetaData, String, Table, Text

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

# Engine events already applied: an event id is recorded in the transaction that applies it.
processed_events = Table(
    "processed_events",
    metadata,
    Column("event_id", String(128), primary_key=True),
    Column("processed_at", DateTimeUTC(timezone=True), nullable=False),
)
