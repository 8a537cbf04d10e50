"""Interleaved A/B runs: every contender up at once on its own port, short runs alternating
between them per scenario, CPU per request counted for the server's processes and for the
PostgreSQL backends serving it, medians and spread reported (issue 15).

Used by bench/run.py (task API), bench/analytics_reads.py and bench/conversations_run.py. A
contender is one server process group: the service, a floor (bench/floor_app.py under Litestar,
or its bare ASGI callable, by default; another floor module with `contenders(targets=...)`), or
the service built from another checkout (`--baseline-tree`), each under uvicorn or granian.

Why this shape: on a machine shared with other engineers' tests, throughput measured a minute
apart swung 0.40-2.96x between rounds; runs a few seconds apart, their order rotated per round,
see the same load. CPU per request (server + database) moves less with that load than requests
per second, and the database half is where the old floor's reset round trip hid.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import signal
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import asyncpg

from bench import system

ROOT = Path(__file__).resolve().parent.parent
KINDS = ("service", "floor", "bare", "bare-text")
SERVERS = ("uvicorn", "granian")
T = TypeVar("T")
FLOOR_TARGETS = {
    "floor": "bench.floor_app:app",
    "bare": "bench.floor_app:bare",
    "bare-text": "bench.floor_app:bare_text",  # `bare`, timestamps read as text
}


@dataclass
class Contender:
    kind: str  # service | floor | bare | bare-text | baseline
    server: str  # uvicorn | granian | default (a baseline tree's own choice)
    port: int
    tree: Path = ROOT
    target: str | None = None  # a floor's ASGI app, "module:attribute"
    process: subprocess.Popen[bytes] | None = None
    log: Path | None = None

    @property
    def name(self) -> str:
        return "baseline" if self.kind == "baseline" else f"{self.kind}@{self.server}"

    @property
    def is_service(self) -> bool:
        return self.kind in ("service", "baseline")


def contenders(
    kinds: Sequence[str],
    servers: Sequence[str],
    port: int,
    baseline: str | None,
    targets: Mapping[str, str] = FLOOR_TARGETS,
) -> list[Contender]:
    """`targets`: the ASGI app each floor kind runs (the task API's floors unless given)."""
    found = [Contender(k, s, 0, target=targets.get(k)) for s in servers for k in kinds]
    if baseline:
        tree = Path(baseline).resolve()
        if not (tree / ".venv/bin/dashboard-api").exists():
            raise SystemExit(f"{tree}/.venv/bin/dashboard-api is missing: `make .venv/.installed`")
        found.append(Contender("baseline", "default", 0, tree=tree))
    for offset, contender in enumerate(found):
        contender.port = port + offset
    return found


def _command(c: Contender, workers: int) -> list[str]:
    if c.is_service:
        command = [str(c.tree / ".venv/bin/dashboard-api"), "run", "--no-migrate"]
        return [*command, "--port", str(c.port), "--workers", str(workers)]
    target = c.target or FLOOR_TARGETS[c.kind]
    if c.server == "granian":
        return [sys.executable, "-m", "granian", "--interface", "asgi", "--host", "127.0.0.1",
                "--port", str(c.port), "--workers", str(workers), "--log-level", "warning",
                "--no-access-log", target]  # fmt: skip
    return [sys.executable, "-m", "uvicorn", target, "--no-access-log", "--host", "127.0.0.1",
            "--log-level", "warning", "--port", str(c.port), "--workers", str(workers)]  # fmt: skip


def start_all(
    found: Sequence[Contender],
    workers: int,
    database_url: str,
    pool_size: int,
    extra_env: dict[str, str],
    startup: float,
) -> None:
    """Start every contender at once, then wait (up to `startup` s) for each /health."""
    for c in found:
        if not system.port_free(c.port):
            raise SystemExit(f"port {c.port} ({c.name}) is taken: choose another with --port")
    for c in found:
        env = dict(os.environ) | extra_env
        env["DASHBOARD_DB_POOL_SIZE"] = str(pool_size)
        if c.is_service:
            env |= {"DASHBOARD_DATABASE_URL": database_url, "DASHBOARD_LOG_LEVEL": "warning"}
            if c.kind == "service":
                env["DASHBOARD_SERVER"] = c.server
            else:
                env.pop("DASHBOARD_SERVER", None)  # the tree's own default
        else:
            env["BENCH_DATABASE_URL"] = database_url.replace("+asyncpg", "")
        c.log = Path(f"/tmp/bench-{os.getpid()}-{c.port}.log")
        with c.log.open("wb") as log:
            c.process = subprocess.Popen(
                _command(c, workers),
                env=env,
                cwd=c.tree,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
    deadline = time.monotonic() + startup
    for c in found:
        assert c.process is not None
        while True:
            if c.process.poll() is not None:
                output = c.log.read_text(errors="replace") if c.log else ""
                stop_all(found)
                raise SystemExit(f"{c.name} exited with {c.process.returncode}:\n{output}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{c.port}/health", timeout=2):
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    output = c.log.read_text(errors="replace") if c.log else ""
                    stop_all(found)
                    raise SystemExit(
                        f"{c.name} did not answer /health within {startup:.0f} s:\n{output}"
                    ) from None
                time.sleep(0.3)


def stop_all(found: Sequence[Contender]) -> None:
    for c in found:
        if c.process is not None and c.process.poll() is None:
            os.killpg(c.process.pid, signal.SIGTERM)
    for c in found:
        if c.process is None:
            continue
        try:
            c.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(c.process.pid, signal.SIGKILL)
            c.process.wait()
        c.process = None
        if c.log is not None:
            c.log.unlink(missing_ok=True)  # kept only while a start-up failure points to it


class DatabaseCpu:
    """CPU time of the PostgreSQL backends connected to one database, from /proc.

    Backends are matched by `pg_stat_activity.datname` (client backends only, not this
    monitor's own). Every contender serves the same database, but only one is under load at a
    time, and an idle pool's backends spend nothing: the delta over a run is that run's. A
    backend that exits during a run takes its CPU with it (pools here are fixed, so none do).
    """

    def __init__(self, url: str) -> None:
        self.database = url.rsplit("/", 1)[1].split("?", 1)[0]
        self._loop = asyncio.new_event_loop()
        plain = url.replace("postgresql+asyncpg://", "postgresql://")
        self._connection = self._loop.run_until_complete(asyncpg.connect(plain))

    def _pids(self) -> list[int]:
        rows = self._loop.run_until_complete(
            self._connection.fetch(
                "SELECT pid FROM pg_stat_activity WHERE datname = $1 "
                "AND backend_type = 'client backend' AND pid <> pg_backend_pid()",
                self.database,
            )
        )
        return [row["pid"] for row in rows]

    def sample(self) -> dict[int, float]:
        return {pid: system.pid_cpu_seconds(pid) for pid in self._pids()}

    def connections_free(self) -> int:
        """Connections the server still accepts, besides its reserved ones."""
        value = self._loop.run_until_complete(
            self._connection.fetchval(
                "SELECT current_setting('max_connections')::int "
                "- current_setting('superuser_reserved_connections')::int "
                "- (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')"
            )
        )
        return int(value)

    @staticmethod
    def spent(before: dict[int, float], after: dict[int, float]) -> float:
        return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())

    def close(self) -> None:
        self._loop.run_until_complete(self._connection.close())
        self._loop.close()


def require_connections(
    found: Sequence[Contender], workers: int, pool_size: int, database: DatabaseCpu
) -> None:
    """Stop before starting if PostgreSQL cannot open every contender's pool (five left for
    others)."""
    need, free = len(found) * workers * pool_size, database.connections_free()
    if need > free - 5:
        raise SystemExit(
            f"{len(found)} contenders x {workers} workers x {pool_size} connections "
            f"= {need}: more than PostgreSQL has free ({free}); "
            "fewer contenders or a smaller --pool-size"
        )


@contextlib.contextmanager
def running(
    found: Sequence[Contender],
    workers: int,
    database_url: str,
    pool_size: int,
    extra_env: dict[str, str],
    startup: float,
) -> Iterator[DatabaseCpu]:
    """Every contender up (once PostgreSQL has the connections their pools need), and the
    monitor of their database's backends for `measure`; all stopped and closed on the way out."""
    database = DatabaseCpu(database_url)
    try:
        require_connections(found, workers, pool_size, database)
        start_all(found, workers, database_url, pool_size, extra_env, startup)
        yield database
    finally:
        stop_all(found)
        database.close()


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(
    c: Contender, load: Callable[[], dict[str, Any]], database: DatabaseCpu
) -> dict[str, Any]:
    """One run of `load` (wrk, or another load generator that returns `requests` and
    `seconds`) against `c`, with its CPU per request: server processes, database backends, and
    what else the machine did meanwhile (other engineers' work, as a share of all cores)."""
    assert c.process is not None
    server = system.group_cpu_seconds(c.process.pid)
    db = database.sample()
    machine = system.cpu_times()
    load_cpu = _children_cpu()
    stats = load()
    load_cpu = _children_cpu() - load_cpu
    machine_after = system.cpu_times()
    db_spent = DatabaseCpu.spent(db, database.sample())
    server = system.group_cpu_seconds(c.process.pid) - server
    requests = max(1, stats["requests"])
    busy = (machine_after[0] - machine[0]) - (machine_after[1] - machine[1])  # core-seconds
    other = max(0.0, busy - server - db_spent - load_cpu)
    wall = max(1e-9, machine_after[2] - machine[2])
    return stats | {
        "server_cpu_us": server * 1e6 / requests,
        "db_cpu_us": db_spent * 1e6 / requests,
        "total_cpu_us": (server + db_spent) * 1e6 / requests,
        "load_generator_cpu_us": load_cpu * 1e6 / requests,
        "other_load": round(other / (wall * (os.cpu_count() or 1)), 3),
        "load_average": os.getloadavg()[0],
    }


def rounds(
    slots: Sequence[T],
    count: int,
    run: Callable[[T, int], dict[str, Any]],
    quiet: float,
    quiet_wait: int,
) -> list[dict[str, Any]]:
    """`count` rounds, each running every slot (a contender, or a contender and a scenario)
    once; the order rotates by one each round, so no slot always runs first after the quiet
    wait or right after the same neighbour. Before each round the machine may settle (at most
    `quiet_wait` s); the load seen is kept and the round is measured anyway."""
    results = []
    for index in range(count):
        busy = system.wait_quiet(quiet, patience=quiet_wait)
        shift = index % len(slots)
        for slot in [*slots[shift:], *slots[:shift]]:
            result = run(slot, index) | {"round": index}
            result["busy_before_round"] = round(busy, 3)
            results.append(result)
    return results


METRICS = ("rps", "p50_us", "p99_us", "server_cpu_us", "db_cpu_us", "total_cpu_us")


@dataclass
class Spread:
    median: float
    low: float
    high: float
    values: list[float] = field(default_factory=list)

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        return cls(statistics.median(values), min(values), max(values), list(values))

    def show(self, fmt: str = ",.0f") -> str:
        return f"{self.median:{fmt}} ({self.low:{fmt}}-{self.high:{fmt}})"


def summarize(runs: Sequence[dict[str, Any]], keys: Sequence[str]) -> dict[tuple, dict]:
    """Median and min-max per group (`keys` + contender) of every metric."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in runs:
        groups.setdefault((*(r[k] for k in keys), r["contender"]), []).append(r)
    return {
        group: {m: Spread.of([r[m] for r in rs]) for m in METRICS if m in rs[0]}
        | {"runs": len(rs), "non_2xx": sum(r.get("non_2xx_3xx", 0) for r in rs)}
        for group, rs in groups.items()
    }


def pairs(names: Sequence[str]) -> list[tuple[str, str]]:
    """The comparisons worth a ratio: the service against each floor on its server, the
    granian contender against the uvicorn one of its kind, the service against the baseline."""
    found = []
    for name in names:
        kind, _, server = name.partition("@")
        if kind == "service":
            for floor in ("floor", "bare", "bare-text"):
                if f"{floor}@{server}" in names:
                    found.append((name, f"{floor}@{server}"))
            if "baseline" in names:
                found.append((name, "baseline"))
        if server == "granian" and f"{kind}@uvicorn" in names:
            found.append((name, f"{kind}@uvicorn"))
    return found


def paired_ratios(
    runs: Sequence[dict[str, Any]], keys: Sequence[str], a: str, b: str, metric: str
) -> Spread | None:
    """a / b per round (the two runs of one round are seconds apart), median and min-max."""
    by: dict[tuple, float] = {}
    for r in runs:
        by[(*(r[k] for k in keys), r["round"], r["contender"])] = r[metric]
    values = []
    for (*group, index, name), value in by.items():
        if name == a and (other := by.get((*group, index, b))):
            values.append(value / other)
    return Spread.of(values) if values else None


def ratio_table(runs: Sequence[dict[str, Any]], keys: Sequence[str]) -> str:
    names = list(dict.fromkeys(r["contender"] for r in runs))
    lines = [
        f"| {' | '.join(keys)} | A / B | req/s A/B median (min-max) "
        "| CPU µs/req (server+db) A/B median (min-max) |",
        "|" + "---|" * (len(keys) + 3),
    ]
    for group in dict.fromkeys(tuple(r[k] for k in keys) for r in runs):
        subset = [r for r in runs if tuple(r[k] for k in keys) == group]
        for a, b in pairs(names):
            rps = paired_ratios(subset, keys, a, b, "rps")
            cpu = paired_ratios(subset, keys, a, b, "total_cpu_us")
            if rps and cpu:
                lines.append(
                    f"| {' | '.join(map(str, group))} | {a} / {b} | {rps.show('.2f')} "
                    f"| {cpu.show('.2f')} |"
                )
    return "\n".join(lines)


def figure_table(summary: dict[tuple, dict], keys: Sequence[str]) -> str:
    lines = [
        f"| {' | '.join(keys)} | contender | req/s | p50 / p99 ms | CPU µs/req server "
        "| CPU µs/req database | CPU µs/req total | runs | non-2xx |",
        "|" + "---|" * (len(keys) + 8),
    ]
    for group, s in summary.items():
        *values, name = group
        lines.append(
            f"| {' | '.join(map(str, values))} | {name} | {s['rps'].show()} "
            f"| {s['p50_us'].median / 1000:.1f} / {s['p99_us'].median / 1000:.1f} "
            f"| {s['server_cpu_us'].show()} | {s['db_cpu_us'].show()} "
            f"| {s['total_cpu_us'].show()} | {s['runs']} | {s['non_2xx']} |"
        )
    return "\n".join(lines)


def jsonable(summary: dict[tuple, dict], keys: Sequence[str]) -> list[dict[str, Any]]:
    out = []
    for group, s in summary.items():
        row: dict[str, Any] = dict(zip([*keys, "contender"], group, strict=True))
        for metric, value in s.items():
            row[metric] = (
                {"median": value.median, "min": value.low, "max": value.high}
                if isinstance(value, Spread)
                else value
            )
        out.append(row)
    return out
