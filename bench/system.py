"""What run.py reads from Linux: CPU time spent by processes, how busy the machine is, and the
conditions the results were measured under."""

from __future__ import annotations

import os
import platform
import socket
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: str) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None  # gone meanwhile


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU of every live process in a process group (a server and its workers)."""
    ticks = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        fields = _stat(pid)
        if fields is not None and int(fields[2]) == pgid:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / TICK


def pid_cpu_seconds(pid: int) -> float:
    """User + system CPU of one process (0 if it is gone)."""
    fields = _stat(str(pid))
    return 0.0 if fields is None else (int(fields[11]) + int(fields[12])) / TICK


def cpu_times() -> tuple[float, float, float]:
    """All cores' CPU seconds so far (total, idle + iowait), and a monotonic clock."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(fields) / TICK, (fields[3] + fields[4]) / TICK, time.monotonic()


def cpu_busy(seconds: float = 1.0) -> float:
    """Share of all cores busy over `seconds`, from /proc/stat."""

    def sample() -> tuple[int, int]:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return sum(fields), fields[3] + fields[4]  # total, idle + iowait

    total, idle = sample()
    time.sleep(seconds)
    total2, idle2 = sample()
    return 1 - (idle2 - idle) / max(1, total2 - total)


def wait_quiet(limit: float, patience: int = 20) -> float:
    """The machine may be shared: wait (at most `patience` s) until it is nearly idle, and
    return the share of the cores busy when it stopped waiting. On a machine where other
    engineers run tests it may never be idle: waiting longer only makes the run longer."""
    busy = cpu_busy()
    for _ in range(patience):
        if busy <= limit:
            break
        busy = cpu_busy()
    return busy


def port_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers do
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def conditions() -> dict[str, object]:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    models = [line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")]
    memory_kb = int(Path("/proc/meminfo").read_text().split()[1])
    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False).stdout
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu": models[0] if models else platform.processor(),
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kb / 2**20, 1),
        "python": platform.python_version(),
        "wrk": " ".join(wrk.split()[:2]),
        "load_average": os.getloadavg(),
    }


# Benchmarks drive the service from one address, far past any client's budget: limits off, or
# (to measure what counting every request costs) budgets no run can spend.
RATE_LIMITS_OFF = {
    "DASHBOARD_RATE_LIMIT_READ_PER_MINUTE": "0",
    "DASHBOARD_RATE_LIMIT_WRITE_PER_MINUTE": "0",
    "DASHBOARD_RATE_LIMIT_INGEST_PER_MINUTE": "0",
    "DASHBOARD_WS_MAX_CONNECTIONS_PER_CLIENT": "0",
}
RATE_LIMITS_COUNTED = {key: "1000000000" for key in RATE_LIMITS_OFF}
