"""The console in a real browser (headless Chromium) against the real server process, on
PostgreSQL and a Redis of the module's own, with an engine outside the server streaming output.

The page is found the way a user finds it: by its text, its roles and its links."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Server, free_port
from tests.e2e.console_support import (
    OutsideEngine,
    WatchedPage,
    browser,
    expected_lines,
    open_page,
)
from tests.redis_support import PrivateRedis

pytestmark = [pytest.mark.integration, pytest.mark.e2e]
__all__ = ["browser"]  # the fixture, imported for the tests of this module

DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.fixture(scope="module")
def module_redis() -> Iterator[PrivateRedis]:
    redis = PrivateRedis(free_port())
    redis.start()
    try:
        yield redis
    finally:
        redis.stop()


class ConsoleServer:
    """The server process, restartable on the same port (a browser keeps its address)."""

    def __init__(self, database_url: str, redis: PrivateRedis) -> None:
        self.env = {"DASHBOARD_DATABASE_URL": database_url, "DASHBOARD_REDIS_URL": redis.url}
        self.redis_url = redis.url
        self.server = self._start(None)

    def _start(self, port: int | None) -> Server:
        server = Server(self.env, port=port)
        try:
            server.wait_ready(timeout=90)  # generous: CI machines are shared and slow at times
        except Exception:
            server.stop()
            raise
        return server

    @property
    def url(self) -> str:
        return self.server.url

    def restart(self) -> None:
        port = self.server.port
        self.server.stop()
        self.server = self._start(port)

    def stop(self) -> None:
        self.server.stop()


@pytest.fixture(scope="module")
def console(e2e_database_url: str, module_redis: PrivateRedis) -> Iterator[ConsoleServer]:
    running = ConsoleServer(e2e_database_url, module_redis)
    try:
        yield running
    finally:
        running.stop()


def register(console: ConsoleServer, text: str, **fields: Any) -> str:
    body = {"agent_type": "coder", "input_message": text, **fields}
    answer = httpx.post(f"{console.url}/api/tasks", json=body, timeout=10)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["task_id"])


def output_text(watched: WatchedPage) -> str:
    return str(watched.page.get_by_label("Output", exact=True).text_content())


def wait_for_text(watched: WatchedPage, expected: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while output_text(watched) != expected:
        if time.monotonic() > deadline:
            raise AssertionError(f"output is {output_text(watched)[-200:]!r}")
        watched.page.wait_for_timeout(100)


def test_every_section_loads_with_no_console_error(console: ConsoleServer, browser: Any) -> None:
    watched = open_page(browser, f"{console.url}/")
    assert watched.page.url.endswith("/console/#/tasks") or "/console/" in watched.page.url
    for link, heading in (
        ("Costs & performance", "Costs & performance"),
        ("Conversations", "Conversations"),
        ("Webhooks & sources", "Webhooks & sources"),
        ("Tasks", "Tasks"),
    ):
        watched.page.get_by_role("link", name=link, exact=True).click()
        watched.page.get_by_role("heading", name=heading, exact=True).wait_for()
        watched.page.wait_for_timeout(300)
    watched.page.get_by_text("● live").wait_for()
    assert watched.errors == []
    watched.page.close()


def test_a_task_registered_over_rest_appears_and_its_output_streams(
    console: ConsoleServer, browser: Any
) -> None:
    watched = open_page(browser, f"{console.url}/console/#/tasks")
    watched.page.get_by_text("● live").wait_for()
    text = f"Rename the billing module {uuid.uuid4().hex[:8]}"
    task_id = register(console, text)
    started = time.monotonic()
    watched.page.get_by_role("link", name=text).wait_for(timeout=2000)
    assert time.monotonic() - started <= 2.0
    watched.page.get_by_role("link", name=text).click()
    watched.page.get_by_text(text, exact=True).wait_for()  # the input, in full, in the detail
    engine = OutsideEngine(console.redis_url, task_id, count=30, rate=50)
    wait_for_text(watched, expected_lines(30), timeout=15)
    engine.wait()
    watched.page.get_by_text("completed", exact=True).first.wait_for()
    watched.page.get_by_text("$1.23", exact=True).wait_for()  # the final cost
    assert watched.errors == []
    watched.page.close()


def test_after_a_server_restart_mid_stream_every_line_shows_once(
    console: ConsoleServer, browser: Any
) -> None:
    text = f"Stream through a restart {uuid.uuid4().hex[:8]}"
    task_id = register(console, text)
    watched = open_page(browser, f"{console.url}/console/#/tasks/{task_id}")
    watched.page.get_by_text(text, exact=True).wait_for()
    engine = OutsideEngine(console.redis_url, task_id, count=120, rate=30)
    deadline = time.monotonic() + 15
    while output_text(watched).count("\n") < 20:
        assert time.monotonic() < deadline, "the first lines never arrived"
        watched.page.wait_for_timeout(50)
    console.restart()  # the engine goes on publishing to Redis while the API is down
    engine.wait()
    wait_for_text(watched, expected_lines(120), timeout=30)
    # What the browser logs itself while the server is down (a refused handshake or request)
    # is not the page's error; anything else is.
    unexpected = [e for e in watched.errors if "WebSocket" not in e and "net::ERR_" not in e]
    assert unexpected == [], watched.errors
    watched.page.close()


def test_the_cost_chart_shows_the_figures_of_the_api(console: ConsoleServer, browser: Any) -> None:
    for number in range(3):
        task_id = register(console, f"Priced task {number}", model="claude-sonnet-4")
        answer = httpx.patch(
            f"{console.url}/api/tasks/{task_id}",
            json={"status": "completed", "cost_usd": f"0.{number + 1}5", "output_tokens": 10},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
    watched = open_page(browser, f"{console.url}/console/#/costs")
    watched.page.get_by_text("Figures of the chart").click()
    histogram = httpx.get(
        f"{console.url}/api/analytics/costs/histogram",
        params={"granularity": "day", "days": 30, "group_by": "agent_type"},
        timeout=10,
    ).json()
    rows = watched.page.locator("table.buckets tbody tr")
    rows.nth(len(histogram["buckets"]) - 1).wait_for()
    shown = [rows.nth(i).locator("td").all_text_contents() for i in range(rows.count())]
    expected = [
        [bucket["start"], money(bucket["cost_usd"]), f"{bucket['tasks']:,}"]
        for bucket in histogram["buckets"]
    ]
    assert [row[:3] for row in shown] == expected
    assert any(bucket["cost_usd"] > 0 for bucket in histogram["buckets"])
    bars = watched.page.locator("svg.chart g.bar")
    assert bars.count() == len(histogram["buckets"])
    summary = httpx.get(f"{console.url}/api/analytics/summary", timeout=10).json()
    watched.page.get_by_text(money(summary["today_cost_usd"]), exact=True).first.wait_for()
    assert watched.errors == []
    watched.page.close()


def money(usd: float) -> str:
    """The console's money format: cents, or four decimals under a cent."""
    return f"${usd:.4f}" if usd != 0 and abs(usd) < 0.01 else f"${usd:.2f}"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    database = tmp_path_factory.mktemp("demo") / "demo.db"
    server = Server(
        {"DASHBOARD_DATABASE_URL": f"sqlite+aiosqlite:///{database}", "DASHBOARD_DEMO": "true"}
    )
    try:
        server.wait_ready(timeout=90)  # the back-fill of 30 days runs before it serves
        yield server
    finally:
        server.stop()


def test_a_chat_message_gets_its_answer_from_the_demo_engine(demo: Server, browser: Any) -> None:
    watched = open_page(browser, f"{demo.url}/console/#/chat")
    watched.page.get_by_label("Title").fill("Browser test chat")
    watched.page.get_by_role("button", name="New conversation").click()
    watched.page.get_by_label("Message", exact=True).fill("Why is the build red?")
    watched.page.get_by_role("button", name="Send").click()
    watched.page.get_by_text("Why is the build red?", exact=True).wait_for()
    answer = "Working on: Why is the build red?"  # what the demo engine answers
    watched.page.locator(".message.assistant", has_text=answer).wait_for(timeout=30_000)
    assert watched.errors == []
    watched.page.close()


def test_the_demo_engine_runs_a_task_registered_over_rest(demo: Server) -> None:
    answer = httpx.post(
        f"{demo.url}/api/tasks", json={"agent_type": "coder", "input_message": "Fix it"}, timeout=10
    )
    task_id = answer.json()["task_id"]
    deadline = time.monotonic() + 30
    while (status := httpx.get(f"{demo.url}/api/tasks/{task_id}").json()["status"]) == "queued":
        assert time.monotonic() < deadline, "nobody picked the task up"
        time.sleep(0.2)
    assert status in {"running", "completed", "failed"}


def test_screenshots_of_the_demo_for_the_docs(demo: Server, browser: Any, tmp_path: Path) -> None:
    """The README's pictures: the demo's console as a new user sees it. They are written to
    docs/ only when DASHBOARD_UPDATE_SCREENSHOTS=1, so a test run leaves the tree as it was."""
    shots = DOCS if os.environ.get("DASHBOARD_UPDATE_SCREENSHOTS") == "1" else tmp_path
    for section, name in (("tasks", "console-tasks"), ("costs", "console-costs")):
        watched = open_page(browser, f"{demo.url}/console/#/{section}", width=1280, height=800)
        watched.page.get_by_text("● live").wait_for()
        watched.page.wait_for_timeout(1500)
        watched.page.screenshot(path=str(shots / f"{name}.png"))
        assert watched.errors == []
        watched.page.close()
    phone = open_page(browser, f"{demo.url}/console/#/tasks", width=390, height=800)
    phone.page.get_by_text("● live").wait_for()
    width = phone.page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, "the page scrolls sideways on a phone"
    phone.page.close()


SECRET = "console-browser-test-secret-42"


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    database = tmp_path_factory.mktemp("guarded") / "guarded.db"
    server = Server(
        {
            "DASHBOARD_DATABASE_URL": f"sqlite+aiosqlite:///{database}",
            "DASHBOARD_API_TOKENS": f"ui:read+write:{SECRET}",
        }
    )
    try:
        server.wait_ready(timeout=90)
        yield server
    finally:
        server.stop()


def test_with_tokens_the_page_asks_for_one_and_then_works_live(
    guarded: Server, browser: Any
) -> None:
    watched = open_page(browser, f"{guarded.url}/console/#/tasks")
    watched.page.get_by_label("Token", exact=True).fill(SECRET)
    watched.page.get_by_role("button", name="Use token").click()
    watched.page.get_by_text("● live").wait_for()
    text = f"Seen with a token {uuid.uuid4().hex[:8]}"
    answer = httpx.post(
        f"{guarded.url}/api/tasks",
        json={"agent_type": "coder", "input_message": text},
        headers={"Authorization": f"Bearer {SECRET}"},
        timeout=10,
    )
    assert answer.status_code == 201
    watched.page.get_by_role("link", name=text).wait_for(timeout=5000)
    # The browser logs refused requests itself (the 401s and the refused handshake before the
    # token was given, the 404 of a server without the ticket route): not the page's errors.
    browser_lines = ("Failed to load resource", "WebSocket connection to")
    assert [e for e in watched.errors if not e.startswith(browser_lines)] == []
    watched.page.close()
