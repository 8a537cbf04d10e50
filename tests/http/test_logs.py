"""One log pipeline: a request id on every response and line, and credentials never printed."""

from __future__ import annotations

import json
import logging

import pytest
import structlog
from litestar.testing import TestClient

from dashboard_api.http.logs import REDACTED, Redactor, configure_logging, configured_secrets
from dashboard_api.settings import Settings

SECRET = "ui-secret-0123456789abcdef"


def test_a_sane_incoming_request_id_is_kept_and_returned(client: TestClient) -> None:  # type: ignore[type-arg]
    kept = client.get("/api/tasks", headers={"X-Request-ID": "gateway-42.a"})
    assert kept.headers["x-request-id"] == "gateway-42.a"
    for insane in (b"x" * 200, b"a b", b'{"log": 1}', "caf\u00e9".encode()):
        replaced = client.get("/api/tasks", headers={"X-Request-ID": insane})
        assert len(replaced.headers["x-request-id"]) == 32
    assert (
        client.get("/api/tasks").headers["x-request-id"]
        != client.get("/api/tasks").headers["x-request-id"]
    )


@pytest.mark.parametrize(
    "line",
    [
        '127.0.0.1:5 - "WebSocket /ws?token={s}" [accepted]',
        "< GET /ws?channel=tasks&token={s} HTTP/1.1",
        "< authorization: Bearer {s}",
        "GET /ws?ticket={s}",
        "failed for {s} somewhere",
    ],
)
def test_credentials_are_redacted_from_any_text(line: str) -> None:
    scrubbed = Redactor([SECRET]).scrub(line.format(s=SECRET))
    assert SECRET not in scrubbed
    assert REDACTED in scrubbed


def test_standard_library_lines_share_the_json_format_and_redaction(
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = Settings(api_tokens=f"ui:read:{SECRET}", log_format="json")
    assert configured_secrets(settings) == [SECRET]
    try:
        configure_logging(settings)
        structlog.contextvars.bind_contextvars(request_id="r-1")
        logging.getLogger("uvicorn.error").info('"WebSocket /ws?token=%s" [accepted]', SECRET)
        structlog.get_logger().info("ours", detail=f"Bearer {SECRET}")
    finally:
        structlog.contextvars.clear_contextvars()
        structlog.reset_defaults()
        logging.getLogger().handlers = []
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert all(SECRET not in line for line in lines)
    uvicorn_line, our_line = (json.loads(line) for line in lines)
    assert uvicorn_line["logger"] == "uvicorn.error"
    for parsed in (uvicorn_line, our_line):
        assert {"timestamp", "level", "event"} <= parsed.keys()
        assert parsed["request_id"] == "r-1"


def test_passwords_in_service_urls_count_as_secrets() -> None:
    settings = Settings(
        database_url="postgresql+asyncpg://app:db%2Fpass@db:5432/dashboard",
        redis_url="redis://:redis-pass@cache:6379/0",
    )
    secrets = configured_secrets(settings)
    assert {"db/pass", "db%2Fpass", "redis-pass"} <= set(secrets)
    line = "connection to redis://:redis-pass@cache:6379/0 failed"
    assert "redis-pass" not in Redactor(secrets).scrub(line)
