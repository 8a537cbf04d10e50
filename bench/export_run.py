"""Export benchmark: the whole task table as NDJSON and CSV from a real server, with its memory.

    .venv/bin/python -m bench.generate --rows 1000000 --database-url URL
    .venv/bin/python -m bench.export_run --database-url URL

Starts `dashboard-api run` on the database, streams GET /api/exports/tasks to the end (counting
rows, keeping nothing), and samples the server's resident memory every 50 ms: the peak (VmHWM)
and the RSS before and after tell whether memory stays flat however many rows go out.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx


def _rss_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _start(url: str, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DASHBOARD_DATABASE_URL": url,
        "DASHBOARD_PORT": str(port),
        "DASHBOARD_LOG_LEVEL": "warning",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "dashboard_api", "run"], env=env, stdout=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("server did not become ready")


def _export(base: str, fmt: str, pid: int) -> tuple[int, float, int]:
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _rss_kib(pid, "VmRSS"))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    lines = 0
    started = time.perf_counter()
    with httpx.stream("GET", f"{base}/api/exports/tasks?format={fmt}", timeout=None) as response:
        response.raise_for_status()
        for chunk in response.iter_bytes():
            lines += chunk.count(b"\n")
    elapsed = time.perf_counter() - started
    done.set()
    sampler.join()
    rows = lines - 1 if fmt == "csv" else lines  # the CSV header
    return rows, elapsed, peak[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--port", type=int, default=5397)
    args = parser.parse_args()
    server = _start(args.database_url, args.port)
    try:
        base = f"http://127.0.0.1:{args.port}"
        before = _rss_kib(server.pid, "VmRSS")
        print(f"server RSS before: {before / 1024:.1f} MiB")
        for fmt in ("ndjson", "csv"):
            rows, seconds, peak = _export(base, fmt, server.pid)
            now = _rss_kib(server.pid, "VmRSS")
            print(
                f"{fmt}: {rows} rows in {seconds:.1f} s = {rows / seconds:,.0f} rows/s; "
                f"server RSS peak {peak / 1024:.1f} MiB, after {now / 1024:.1f} MiB"
            )
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
