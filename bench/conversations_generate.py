"""Fill a fresh PostgreSQL database for the conversations and webhook benchmarks.

    .venv/bin/python -m bench.conversations_generate [--conversations 100000] [--events 1000000]

100,000 conversations of 50 messages each (5,000,000 messages) and 1,000,000 webhook events over
30 days with their hourly and daily rollups. The database is dropped and recreated, the schema
comes from the project's migrations, and rows are generated inside PostgreSQL (generate_series).
Rollups are built with one GROUP BY over the events: the same rows the service maintains event
by event (the contract tests check that equality), only faster to produce. Deterministic.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import asyncpg

from dashboard_api.adapters.sqlalchemy.migrate import upgrade
from dashboard_api.domain.model.webhooks import LATENCY_BOUNDS_MS

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/dashboard_bench_conversations"
MESSAGES_PER_CONVERSATION = 50
WEBHOOKS = 20

CONVERSATIONS_SQL = """
INSERT INTO conversations
SELECT 'c-' || lpad(i::text, 7, '0'),
       'Conversation ' || i,
       (ARRAY['planner', 'coder', 'reviewer', 'researcher'])[1 + i % 4],
       'user-' || (i % 500),
       i % 10 = 0,
       created,
       created + interval '49 minutes',
       50, 25, (i % 997) * 1000, 25 * 1200, 25 * 300
FROM (SELECT i, timestamptz '2026-09-01 00:00:00+00' + i * interval '50 seconds' AS created
      FROM generate_series(1, $1::int) AS i) AS s
"""

# Messages go in conversation by conversation, like a live table; no tasks are generated
# (the reads measured here never join them).
MESSAGES_SQL = """
INSERT INTO messages
SELECT c.conversation_id || '-m' || lpad(k::text, 2, '0'),
       c.conversation_id,
       CASE WHEN k % 2 = 0 THEN 'user' ELSE 'assistant' END,
       CASE WHEN k % 2 = 0
            THEN 'The nightly build failed again on the payments service; what broke it? #' || k
            ELSE 'A flaky integration test: the sandbox timed out after 1800 s. Retried, green.'
       END,
       CASE WHEN k % 2 = 0 THEN c.conversation_id || '-t' || k END,
       c.created_at + k * interval '1 minute'
FROM conversations c, generate_series(0, 49) AS k
WHERE c.conversation_id >= $1 AND c.conversation_id < $2
"""

EVENTS_SQL = """
INSERT INTO webhook_events
SELECT 'ev-' || lpad(i::text, 8, '0'),
       'hook-' || lpad((i % $2::int)::text, 2, '0'),
       (ARRAY['github', 'jira', 'sentry', 'slack'])[1 + (i % $2::int) % 4],
       (ARRAY['push', 'pull_request', 'issue_updated', 'alert'])[1 + i % 4],
       CASE WHEN r < 0.85 THEN 'processed' WHEN r < 0.93 THEN 'failed'
            WHEN r < 0.98 THEN 'skipped' ELSE 'received' END,
       CASE WHEN r < 0.85 THEN 200 WHEN r < 0.93 THEN 500 ELSE 202 END,
       CASE WHEN r < 0.98 THEN (-ln(1 - random()) * 120)::bigint END,
       NULL,
       CASE WHEN r >= 0.85 AND r < 0.93 THEN 'upstream returned 500' END,
       '{"delivery": ' || i || ', "ref": "refs/heads/main"}',
       now() - i * (interval '30 days' / $1::int)
FROM (SELECT i, random() AS r FROM generate_series(1, $1::int) AS i) AS s
"""


def rollups_sql() -> str:
    bucket = (
        "CASE "
        + " ".join(
            f"WHEN latency_ms <= {bound} THEN {index}"
            for index, bound in enumerate(LATENCY_BOUNDS_MS)
        )
        + f" ELSE {len(LATENCY_BOUNDS_MS)} END"
    )
    counts = ", ".join(
        f"count(*) FILTER (WHERE latency_ms IS NOT NULL AND {bucket} = {index})"
        for index in range(len(LATENCY_BOUNDS_MS) + 1)
    )
    return " ".join(
        f"""
        INSERT INTO webhook_rollups
        SELECT '{span}', date_trunc('{span}', created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',
               webhook_id, provider, status, abs(hashtext(event_id)) % 4,
               count(*), max(created_at), {counts}
        FROM webhook_events
        GROUP BY 2, webhook_id, provider, status, abs(hashtext(event_id)) % 4;
        """
        for span in ("hour", "day")
    )


async def recreate(admin_url: str, name: str) -> None:
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


async def fill(url: str, conversations: int, events: int) -> None:
    connection = await asyncpg.connect(url)
    try:
        # Generated rows are consistent by construction; skip the per-row foreign-key trigger.
        await connection.execute("SET session_replication_role = replica")
        started = time.monotonic()
        await connection.execute(CONVERSATIONS_SQL, conversations)
        step = 10_000
        for low in range(1, conversations + 1, step):
            bounds = (f"c-{low:07d}", f"c-{min(low + step, conversations + 1):07d}")
            await connection.execute(MESSAGES_SQL, *bounds)
            print(f"  messages of conversations up to {bounds[1]}", flush=True)
        print(f"conversations and messages: {time.monotonic() - started:.0f} s", flush=True)
        started = time.monotonic()
        await connection.execute(EVENTS_SQL, events, WEBHOOKS)
        await connection.execute(rollups_sql())
        print(f"webhook events and rollups: {time.monotonic() - started:.0f} s", flush=True)
        await connection.execute("VACUUM ANALYZE")
        counts = await connection.fetchrow(
            "SELECT (SELECT count(*) FROM conversations) AS conversations, "
            "(SELECT count(*) FROM messages) AS messages, "
            "(SELECT count(*) FROM webhook_events) AS events, "
            "(SELECT count(*) FROM webhook_rollups) AS rollup_rows"
        )
        print(dict(counts))
    finally:
        await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()
    plain = args.database_url.replace("postgresql+asyncpg://", "postgresql://")
    base, _, name = plain.rpartition("/")
    asyncio.run(recreate(f"{base}/postgres", name))
    upgrade(args.database_url)
    asyncio.run(fill(plain, args.conversations, args.events))


if __name__ == "__main__":
    main()
