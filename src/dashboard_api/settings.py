"""One settings object, read from `DASHBOARD_*` environment variables (table in README.md)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated, Literal

import msgspec

from dashboard_api.domain.model.access import parse_networks, parse_tokens

PREFIX = "DASHBOARD_"
Seconds = Annotated[float, msgspec.Meta(gt=0, le=3600)]
Days = Annotated[float, msgspec.Meta(gt=0, le=36_500)]


class Settings(msgspec.Struct, kw_only=True, frozen=True):
    database_url: str = "sqlite+aiosqlite:///./dashboard.db"
    redis_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 5000
    workers: int = 1
    # The ASGI server `dashboard-api run` starts (docs/benchmarks.md, "Server").
    server: Literal["uvicorn", "granian"] = "uvicorn"
    migrate_on_start: bool = True
    db_pool_size: int = 20
    # Bounds on waiting for PostgreSQL and Redis, so a lost network is a 503 within seconds
    # instead of a request that hangs (docs/design.md, "Errors").
    db_connect_timeout_seconds: Seconds = 5.0
    db_statement_timeout_seconds: Seconds = 10.0
    redis_timeout_seconds: Seconds = 5.0
    agents: tuple[str, ...] = ()
    api_tokens: str = ""
    history_length: int = 1000
    # TOML price table of the cost engine; empty: the one shipped with the package.
    prices_file: str | None = None
    # How often pending rollup deltas are folded into hour and day rows (answers never wait).
    rollup_compact_seconds: float = 2.0
    # Analytics answers kept per process while no rollup changes (0: read every time).
    analytics_cache_entries: int = 256
    history_ttl_seconds: float = 86_400
    # PING period of the live Redis connection; three unanswered in a row drop it.
    redis_heartbeat_seconds: Seconds = 5.0
    # How long a dropped client's close frame may wait for its socket before the transport
    # is aborted.
    ws_close_timeout_seconds: Seconds = 2.0
    ws_send_queue: int = 1000
    ws_max_frame_bytes: int = 16_384
    ws_max_subscriptions: int = 100
    ws_compression: bool = False
    ingest_stream: str = "dashboard:ingest"
    ingest_group: str = "dashboard-api"
    ingest_dead_letter_stream: str = "dashboard:ingest:rejected"
    # Consumer name in the group: stable across restarts (default: the host name).
    ingest_consumer: str | None = None
    # One process consumes at a time; a standby takes over this long after it stops renewing.
    ingest_lease_ms: int = 10_000
    # Lifecycle events applied per transaction.
    ingest_batch: int = 500
    processed_events_retention_hours: float = 168.0
    demo: bool = False
    max_body_bytes: int = 2 * 1024 * 1024
    log_format: Literal["json", "console"] = "console"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # Conversations, webhooks, sources (docs/conversations.md).
    engine_queue: str = "dashboard:engine:tasks"
    indexer_queue: str = "dashboard:indexer:jobs"
    work_queue_max_length: int = 100_000
    handoff_retry_seconds: float = 5.0
    webhooks_file: str | None = None
    # Budgets, failure-rate rules and outgoing alert webhooks (docs/money.md, alerts.example.toml).
    alerts_file: str | None = None
    alerts_check_seconds: Seconds = 30.0
    # Retention per kind of data, in days (empty: kept forever); docs/money.md.
    retention_task_text_days: Days | None = None
    retention_tasks_days: Days | None = None
    retention_messages_days: Days | None = None
    retention_webhook_payloads_days: Days | None = None
    retention_webhook_events_days: Days | None = None
    retention_batch: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 500
    retention_interval_seconds: Seconds = 600.0
    oauth_platforms: tuple[str, ...] = ("confluence", "github", "jira", "sentry", "slack")
    # Browser safety, WebSocket tickets and rate limits (docs/security.md).
    # Host names served; empty: the loopback names without tokens, any name with tokens.
    allowed_hosts: tuple[str, ...] = ()
    # Origins allowed to change things and open /ws besides the page's own origin.
    allowed_origins: tuple[str, ...] = ()
    # Origins of frontends served elsewhere (CORS); they count as allowed origins too.
    cors_origins: tuple[str, ...] = ()
    ws_ticket_ttl_seconds: int = 30
    # Requests per minute per token (per address without tokens); 0: no limit.
    rate_limit_read_per_minute: int = 1200
    rate_limit_write_per_minute: int = 300
    rate_limit_ingest_per_minute: int = 6000
    # Open WebSockets per token (per address without tokens) on one process; 0: no cap.
    ws_max_connections_per_client: int = 100
    # The groote-ai engine, met where it is (docs/engines.md): its event stream's name turns
    # the adapter on; it is read through a consumer group of ours, never theirs.
    groote_events: str | None = None
    groote_group: str = "dashboard-api"
    groote_start_id: str = "0"
    groote_dead_letter_stream: str = "dashboard:groote:rejected"
    groote_agent_type: str = "brain"
    groote_wait_seconds: float = 5.0
    # groote-ai's REST calls carry no token: from these networks (CIDRs or addresses; empty:
    # none) its six calls are taken without one when tokens are set (docs/security.md).
    groote_trusted_networks: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from the environment; a malformed value stops start-up with its name."""
        environ = os.environ if environ is None else environ
        raw: dict[str, object] = {}
        for field in cls.__struct_fields__:
            value = environ.get(PREFIX + field.upper())
            if value is None or value == "":
                continue
            raw[field] = _split(value) if field in _LISTS else value
        try:
            settings = msgspec.convert(raw, cls, strict=False)
            parse_tokens(settings.api_tokens)
            if settings.groote_events and not settings.redis_url:
                raise ValueError("DASHBOARD_GROOTE_EVENTS needs DASHBOARD_REDIS_URL")
            parse_networks(settings.groote_trusted_networks)
            if settings.groote_trusted_networks and not settings.groote_events:
                raise ValueError("DASHBOARD_GROOTE_TRUSTED_NETWORKS needs DASHBOARD_GROOTE_EVENTS")
        except (msgspec.ValidationError, ValueError) as exc:
            raise SystemExit(f"invalid setting: {exc} (environment variables {PREFIX}*)") from exc
        return settings


_LISTS = frozenset(
    {
        "agents",
        "oauth_platforms",
        "allowed_hosts",
        "allowed_origins",
        "cors_origins",
        "groote_trusted_networks",
    }
)


def _split(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]
