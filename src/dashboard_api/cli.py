"""The `dashboard-api` command: run the service, migrate the database, rebuild rollups."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from dashboard_api.http.observability import configure_logging
from dashboard_api.settings import Settings


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dashboard-api", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="migrate the database (unless told not to), then serve")
    run.add_argument("--host", help="bind address (default: DASHBOARD_HOST or 127.0.0.1)")
    run.add_argument("--port", type=int, help="port (default: DASHBOARD_PORT or 5000)")
    run.add_argument("--workers", type=int, help="worker processes (default: DASHBOARD_WORKERS)")
    run.add_argument("--no-migrate", action="store_true", help="serve the schema as it is")

    demo = commands.add_parser(
        "demo", help="back-fill 30 days of history, serve with a simulated agent engine"
    )
    demo.add_argument("--host", help="bind address (default: DASHBOARD_HOST or 127.0.0.1)")
    demo.add_argument("--port", type=int, help="port (default: DASHBOARD_PORT or 5000)")
    demo.set_defaults(workers=1, no_migrate=False)

    db = commands.add_parser("db", help="schema migrations")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", help="apply every pending migration").add_argument(
        "revision", nargs="?", default="head"
    )
    db_commands.add_parser("downgrade", help="revert to a revision").add_argument("revision")
    db_commands.add_parser("current", help="show the applied revision")

    analytics = commands.add_parser("analytics", help="analytics rollups")
    analytics_commands = analytics.add_subparsers(dest="analytics_command", required=True)
    analytics_commands.add_parser("rebuild", help="recompute every rollup from the tasks")

    args = parser.parse_args(argv)
    settings = Settings.from_env()
    configure_logging(settings)
    if args.command == "db":
        return _db(settings, args.db_command, getattr(args, "revision", "head"))
    if args.command == "analytics":
        return _rebuild_rollups(settings)
    if args.command == "demo":
        # The ASGI factory reads the environment in the worker: demo mode travels there.
        os.environ["DASHBOARD_DEMO"] = "true"
        port = args.port or settings.port
        print(
            "dashboard-api demo: 30 days of history (written once per database), then a "
            "simulated engine that streams tasks, answers chat messages and runs tasks you "
            f"register. Open http://127.0.0.1:{port}/",
            file=sys.stderr,
        )
    return _run(settings, args)


def _db(settings: Settings, command: str, revision: str) -> int:
    from dashboard_api.adapters.sqlalchemy import migrate

    if command == "upgrade":
        migrate.upgrade(settings.database_url, revision)
    elif command == "downgrade":
        migrate.downgrade(settings.database_url, revision)
    else:
        migrate.current(settings.database_url)
    return 0


LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def _rebuild_rollups(settings: Settings) -> int:
    import asyncio

    from dashboard_api.adapters.sqlalchemy.engine import create_engine
    from dashboard_api.adapters.sqlalchemy.rollups import SqlRollupStore

    async def rebuild() -> int:
        engine = create_engine(settings.database_url, null_pool=True)
        try:
            return await SqlRollupStore(engine).rebuild()
        finally:
            await engine.dispose()

    counted = asyncio.run(rebuild())
    print(f"dashboard-api: rollups rebuilt from {counted} tasks")
    return 0


def _run(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from dashboard_api.adapters.sqlalchemy import migrate

    host = args.host or settings.host
    port = args.port or settings.port
    workers = args.workers or settings.workers
    if settings.migrate_on_start and not args.no_migrate:
        migrate.upgrade(settings.database_url)
    if not settings.api_tokens and host not in LOOPBACK:
        print(
            f"dashboard-api: no API tokens configured (DASHBOARD_API_TOKENS), so binding to "
            f"127.0.0.1 instead of {host}: anyone who can reach the port could use the API",
            file=sys.stderr,
        )
        host = "127.0.0.1"
    elif not settings.api_tokens:
        print("dashboard-api: no API tokens configured: loopback only, no auth", file=sys.stderr)
    uvicorn.run(
        "dashboard_api.http.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=settings.log_level,
        access_log=False,
        # Deflate runs once per frame per client: off by default, it costs the fan-out most.
        ws_per_message_deflate=settings.ws_compression,
        # Frames over our limit get an `error` frame; far larger ones are not even buffered.
        ws_max_size=max(1024 * 1024, settings.ws_max_frame_bytes * 4),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
