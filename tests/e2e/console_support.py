"""What the console's browser tests share: headless Chromium (Debian's package, driven by
Playwright; no downloaded browser), a page that records console errors, and an outside engine
that streams numbered lines through the project's EnginePublisher on Redis."""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from dashboard_api.engine import EnginePublisher
from tests.conftest import unavailable

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed (pip install -e '.[dev]')")
    if not shutil.which("chromium"):
        unavailable("chromium is not installed (apt-get install -y chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@dataclass
class WatchedPage:
    """A page and every error it logged (console errors, uncaught exceptions)."""

    page: Any
    errors: list[str] = field(default_factory=list)


def open_page(browser: Any, url: str, *, width: int = 1280, height: int = 860) -> WatchedPage:
    page = browser.new_page(viewport={"width": width, "height": height})
    watched = WatchedPage(page)
    page.on(
        "console",
        lambda message: watched.errors.append(message.text) if message.type == "error" else None,
    )
    page.on("pageerror", lambda error: watched.errors.append(str(error)))
    page.goto(url)
    return watched


class OutsideEngine:
    """Streams `count` lines (`line 0` …) to task:{id} from a thread of its own, as an engine
    process next to the API would; `wait()` returns once the task is reported completed."""

    def __init__(self, redis_url: str, task_id: str, *, count: int, rate: float) -> None:
        self.sent = 0
        self._thread = threading.Thread(
            target=asyncio.run, args=(self._stream(redis_url, task_id, count, rate),)
        )
        self._thread.start()

    async def _stream(self, redis_url: str, task_id: str, count: int, rate: float) -> None:
        engine = EnginePublisher.from_url(redis_url)
        try:
            await engine.lifecycle("task.started", task_id, event_id=f"{task_id}:started")
            for number in range(count):
                await engine.output(task_id, f"line {number}\n")
                self.sent = number + 1
                await asyncio.sleep(1 / rate)
            await engine.lifecycle(
                "task.completed",
                task_id,
                event_id=f"{task_id}:completed",
                output=f"{count} lines",
                cost_usd="1.2345",
                input_tokens=1000,
                output_tokens=200,
            )
        finally:
            await engine.close()

    def wait(self, timeout: float = 60) -> None:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the engine did not finish"


def expected_lines(count: int) -> str:
    return "".join(f"line {number}\n" for number in range(count))
