"""The console under load in a real browser (headless Chromium, Debian's package).

    .venv/bin/python -m bench.console_bench [--rate 100] [--duration 60]

The real server runs on SQLite and a private redis-server. A publisher sends `--rate` task
events per second on `tasks` (new tasks and their status changes, list-row fields included, as
the API publishes them) and, at the same time, one task streams 20 output lines per second on
`task:{id}`. Two tabs are open: the task list and that task's detail. Measured with Chromium's
own instruments, after the first load:
  - lag: every 5 s, the time until the newest published task shows in the list (a growing lag
    is a growing backlog), and whether every line of the detail arrived;
  - long tasks: `PerformanceObserver('longtask')` entries (main-thread tasks over 50 ms);
  - memory: JS heap and DOM node count from the DevTools protocol (`Performance.getMetrics`),
    sampled every 10 s.
Results: bench/results/console-latest.json; a summary in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.realtime_run import free_port
from dashboard_api.adapters.redis.bus import RedisEventBus

HERE = Path(__file__).parent
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
LONG_TASKS = """
window.__longTasks = [];
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) window.__longTasks.push([entry.startTime, entry.duration]);
}).observe({ type: "longtask", buffered: true });
"""


def start_stack(
    directory: str,
) -> tuple[subprocess.Popen[bytes], subprocess.Popen[bytes], str, str]:
    redis_port, port = free_port(), free_port()
    redis = subprocess.Popen(
        ["redis-server", "--port", str(redis_port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    env = {
        **os.environ,
        "DASHBOARD_DATABASE_URL": f"sqlite+aiosqlite:///{directory}/bench.db",
        "DASHBOARD_REDIS_URL": redis_url,
        "DASHBOARD_LOG_LEVEL": "warning",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "dashboard_api", "run", "--port", str(port)], env=env
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    return redis, server, redis_url, url


class Publisher:
    """Publishes the load from a thread of its own; remembers what it sent."""

    def __init__(self, redis_url: str, detail_task: str, rate: int, duration: float) -> None:
        self.redis_url, self.detail_task = redis_url, detail_task
        self.rate, self.duration = rate, duration
        self.newest: str | None = None
        self.final: dict[str, str] = {}
        self.events = 0
        self.lines = 0
        self.thread = threading.Thread(target=asyncio.run, args=(self._run(),))

    async def _run(self) -> None:
        bus = RedisEventBus.from_url(self.redis_url)
        started = time.monotonic()
        open_tasks: list[tuple[str, int]] = []
        tick = 0
        try:
            while time.monotonic() - started < self.duration:
                tick += 1
                # Per 50 ms: rate/20 events; a new task is queued, then runs, then finishes.
                for _ in range(max(1, self.rate // 20)):
                    cap = 3 * max(1, self.rate // 20)
                    if not open_tasks or (len(open_tasks) < cap and tick % 2):
                        task_id = f"bench-{uuid.uuid4().hex[:12]}"
                        open_tasks.append((task_id, 0))
                        await bus.publish("tasks", self._event(task_id, "queued", 1))
                        self.newest = task_id
                    else:
                        task_id, step = open_tasks.pop(0)
                        status = ("running", "completed")[min(step, 1)]
                        await bus.publish("tasks", self._event(task_id, status, step + 2))
                        if step == 0:
                            open_tasks.append((task_id, 1))
                        self.final[task_id] = status
                    self.events += 1
                line = {
                    "type": "task_output",
                    "task_id": self.detail_task,
                    "output": f"line {self.lines}\n",
                }
                await bus.publish(f"task:{self.detail_task}", line)  # 20 lines per second
                self.lines += 1
                await asyncio.sleep(max(0.0, started + tick * 0.05 - time.monotonic()))
        finally:
            await bus.close()

    def _event(self, task_id: str, status: str, version: int) -> dict[str, Any]:
        now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        return {
            "type": "task_status",
            "task_id": task_id,
            "status": status,
            "agent_type": "coder",
            "model": "claude-sonnet-4",
            "cost_usd": 0.01,
            "input_tokens": 100,
            "output_tokens": 20,
            "error": None,
            "created_at": now,
            "started_at": None,
            "completed_at": None,
            "version": version,
            "source": "api",
            "assigned_agent": None,
            "session_id": None,
            "conversation_id": None,
            "input_preview": f"bench {task_id}",
        }


def metrics(cdp: Any) -> dict[str, float]:
    found = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    return {"js_heap_mb": round(found["JSHeapUsedSize"] / 2**20, 2), "nodes": found["Nodes"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=int, default=100)
    parser.add_argument("--duration", type=float, default=60)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    directory = tempfile.mkdtemp(prefix="console-bench-")
    redis, server, redis_url, url = start_stack(directory)
    try:
        detail = httpx.post(f"{url}/api/tasks", json={"agent_type": "coder"}).json()["task_id"]
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                args=CHROMIUM_ARGS,
            )
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.add_init_script(LONG_TASKS)
            pages = {"list": context.new_page(), "detail": context.new_page()}
            pages["list"].goto(f"{url}/console/#/tasks")
            pages["detail"].goto(f"{url}/console/#/tasks/{detail}")
            for page in pages.values():
                page.get_by_text("● live").wait_for()
            cdp = {name: context.new_cdp_session(page) for name, page in pages.items()}
            for session in cdp.values():
                session.send("Performance.enable")
            loaded = {name: page.evaluate("performance.now()") for name, page in pages.items()}
            publisher = Publisher(redis_url, detail, args.rate, args.duration)
            publisher.thread.start()
            samples: list[dict[str, Any]] = []
            started = time.monotonic()
            while publisher.thread.is_alive():
                time.sleep(5)
                newest = publisher.newest
                lag = None
                if newest:
                    shown = time.monotonic()
                    pages["list"].wait_for_selector(f'tr[data-task-id="{newest}"]', timeout=30_000)
                    lag = round((time.monotonic() - shown) * 1000)
                sample = {"t": round(time.monotonic() - started), "lag_ms": lag}
                if sample["t"] % 10 < 5:
                    sample |= {f"{n}_{k}": v for n, s in cdp.items() for k, v in metrics(s).items()}
                samples.append(sample)
                print(json.dumps(sample), file=sys.stderr)
            publisher.thread.join()
            time.sleep(2)
            shown = pages["list"].evaluate(
                "Object.fromEntries([...document.querySelectorAll('tr[data-task-id]')]"
                ".map((r) => [r.dataset.taskId, r.querySelector('.badge').textContent]))"
            )
            mismatched = [
                t for t, status in shown.items() if publisher.final.get(t, "queued") != status
            ]
            output = pages["detail"].get_by_label("Output", exact=True).text_content() or ""
            expected = "".join(f"line {n}\n" for n in range(publisher.lines))
            long_tasks = {
                name: [
                    d for start, d in page.evaluate("window.__longTasks") if start > loaded[name]
                ]
                for name, page in pages.items()
            }
            browser.close()
        result = {
            "rate": args.rate,
            "duration_s": args.duration,
            "events": publisher.events,
            "detail_lines": publisher.lines,
            "detail_complete": output == expected,
            "list_rows": len(shown),
            "list_rows_with_stale_status": len(mismatched),
            "long_tasks_after_load": {n: [round(d) for d in v] for n, v in long_tasks.items()},
            "samples": samples,
        }
        (HERE / "results").mkdir(exist_ok=True)
        (HERE / "results" / "console-latest.json").write_text(json.dumps(result, indent=1))
        print(json.dumps({k: v for k, v in result.items() if k != "samples"}, indent=1))
    finally:
        server.terminate()
        server.wait()
        redis.terminate()
        redis.wait()
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
