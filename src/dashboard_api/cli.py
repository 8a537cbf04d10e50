"""The `dashboard-api` command: run the service, migrate the database, rebuild rollups."""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import os
import sys
from collections.abc import Sequence

from dashboard_api.http.logs import configure_logging
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

    prices = commands.add_parser("prices", help="the cost engine's price table")
    prices_commands = prices.add_subparsers(dest="prices_command", required=True)
    prices_commands.add_parser(
        "check", help="validate a price file: fields, values, overlaps and gaps"
    ).add_argument("file")

    openapi = commands.add_parser(
        "openapi", help="write the OpenAPI document the service serves (the client contract)"
    )
    openapi.add_argument("--output", help="file to write (default: standard output)")

    args = parser.parse_args(argv)
    if args.command == "prices":
        return _check_prices(args.file)
    if args.command == "openapi":
        return _openapi(args.output)
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
    from dashboard_api.bootstrap.database import migrate

    migrate(settings, command, revision)
    return 0


def _check_prices(path: str) -> int:
    from dashboard_api.price_file import check_price_file

    problems = check_price_file(path)
    for problem in problems:
        print(f"{path}: {problem}", file=sys.stderr)
    if problems:
        return 1
    print(f"{path}: ok")
    return 0


def _openapi(output: str | None) -> int:
    # Independent of the environment: the document is the same for every deployment.
    from dashboard_api.http.openapi_document import render, served_document

    # Whatever the app logs while it answers goes to stderr, never into the document.
    with contextlib.redirect_stdout(sys.stderr):
        text = render(served_document())
    if output is None:
        sys.stdout.write(text)
    else:
        with open(output, "w", encoding="utf-8") as file:
            file.write(text)
    return 0


def is_loopback(host: str) -> bool:
    """Whether binding `host` keeps the service reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name: it may resolve anywhere
        return False


def _rebuild_rollups(settings: Settings) -> int:
    from dashboard_api.bootstrap.database import rebuild_analytics

    counted = rebuild_analytics(settings)
    print(f"dashboard-api: rollups rebuilt from {counted} tasks")
    return 0


def _run(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from dashboard_api.bootstrap.database import migrate

    host = args.host or settings.host
    port = args.port or settings.port
    workers = args.workers or settings.workers
    if not settings.api_tokens and not is_loopback(host):
        # Refused, not narrowed to loopback: inside a container that would be a healthy
        # service no published port can reach.
        print(
            f"dashboard-api: refusing to listen on {host} without API tokens: anyone who can "
            f"reach the port could use the API. Set DASHBOARD_API_TOKENS "
            f"(name:scopes:secret,...), or DASHBOARD_HOST=127.0.0.1 for local use only.",
            file=sys.stderr,
        )
        return 2
    if not settings.api_tokens:
        print("dashboard-api: no API tokens configured: loopback only, no auth", file=sys.stderr)
    if settings.migrate_on_start and not args.no_migrate:
        migrate(settings)
    if settings.server == "granian":
        _serve_granian(settings, host, port, workers)
        return 0
    uvicorn.run(
        "dashboard_api.http.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=settings.log_level,
        # Not uvicorn's logging config: its loggers propagate to ours (http/logs.py), so its
        # lines are structlog lines with the request id, and credentials are redacted.
        log_config=None,
        # The access line is ours (one per request, path without its query string).
        access_log=False,
        # Deflate runs once per frame per client: off by default, it costs the fan-out most.
        ws_per_message_deflate=settings.ws_compression,
        # Frames over our limit get an `error` frame; far larger ones are not even buffered.
        ws_max_size=max(1024 * 1024, settings.ws_max_frame_bytes * 4),
    )
    return 0


def _serve_granian(settings: Settings, host: str, port: int, workers: int) -> None:
    """The same app under granian (DASHBOARD_SERVER=granian; docs/benchmarks.md, "Server").
    Granian has no per-message deflate: DASHBOARD_WS_COMPRESSION does not apply under it."""
    from granian.constants import Interfaces
    from granian.log import LogLevels
    from granian.server import Server

    if settings.ws_compression:
        print(
            "dashboard-api: granian has no per-message deflate: frames go uncompressed",
            file=sys.stderr,
        )
    # Granian's loggers propagate to ours (http/logs.py) like uvicorn's; no access line of
    # its own (ours is one per request).
    quiet: dict[str, object] = {"handlers": [], "propagate": True}
    Server(
        "dashboard_api.http.app:app_from_env",
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        factory=True,
        workers=workers,
        websockets=True,
        log_level=LogLevels(settings.log_level),
        log_dictconfig={"loggers": {"_granian": dict(quiet), "granian.access": dict(quiet)}},
        log_access=False,
    ).serve()


if __name__ == "__main__":
    raise SystemExit(main())
