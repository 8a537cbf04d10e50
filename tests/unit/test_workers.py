"""Every background loop starts in one place, in a defined order, and stopping stops them all."""

from __future__ import annotations

import asyncio
import logging

from dashboard_api.bootstrap import build_services, memory_adapters, running
from dashboard_api.bootstrap.failures import FailureLog
from dashboard_api.settings import Settings


async def test_every_loop_starts_in_order_and_shutting_down_stops_them_all() -> None:
    adapters = memory_adapters()
    adapter_loop_ran = asyncio.Event()

    async def compactor() -> None:  # stands for an adapter's own loop (the rollup compactor)
        adapter_loop_ran.set()
        await asyncio.Event().wait()

    adapters.loops["rollup-compactor"] = compactor
    settings = Settings(retention_tasks_days=30, demo=True)
    services = build_services(adapters, settings)
    async with running(services) as workers:
        names = list(workers.tasks)
        await asyncio.wait_for(adapter_loop_ran.wait(), 5)
        assert all(not task.done() for task in workers.tasks.values())
        live = {task.get_name() for task in asyncio.all_tasks()}
        assert set(names) <= live
    assert names == [
        "rollup-compactor",
        "ingestor",
        "handoff-relay",
        "event-retention",
        "left-over-announcements",
        "retention",
        "alert-checks",
        "demo-engine",
    ]
    assert all(task.done() for task in workers.tasks.values())
    assert not {task.get_name() for task in asyncio.all_tasks()} & set(names)
    await adapters.close()


async def test_a_loop_that_fails_to_start_stops_those_already_started() -> None:
    adapters = memory_adapters()
    started = asyncio.Event()

    async def compactor() -> None:
        started.set()
        await asyncio.Event().wait()

    adapters.loops["rollup-compactor"] = compactor
    services = build_services(adapters, Settings())

    async def broken_start() -> None:
        await started.wait()
        raise OSError("the bus is unreachable")

    services.hub.start = broken_start  # type: ignore[method-assign]
    try:
        async with running(services):
            raise AssertionError("not reached: the hub failed to start")
    except OSError:
        pass
    assert not any(task.get_name() == "rollup-compactor" for task in asyncio.all_tasks())
    await adapters.close()


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_an_outage_is_reported_when_it_starts_now_and_then_and_when_it_ends() -> None:
    """A database down fails every round of every loop: one line when it starts (its message,
    no traceback), one a minute while it lasts, one when it is over; a defect every time, with
    its traceback."""
    now = [0.0]
    logger = logging.getLogger("tests.failure_log")
    lines = _Lines()
    logger.addHandler(lines)
    logger.propagate = False
    failures = FailureLog("alert check", clock=lambda: now[0], logger=logger)
    down = ConnectionRefusedError("connect call failed ('127.0.0.1', 5432)")
    for _ in range(30):  # a round every 5 s for 150 s
        failures.failed(down)
        now[0] += 5
    failures.succeeded()
    failures.succeeded()
    failures.failed(ValueError("a bug"))
    said = [record.getMessage() for record in lines.records]
    assert said == [
        "alert check paused: a backing service is unavailable (ConnectionRefusedError: "
        "connect call failed ('127.0.0.1', 5432))",
        "alert check still paused after 60s (13 rounds failed): ConnectionRefusedError: "
        "connect call failed ('127.0.0.1', 5432)",
        "alert check still paused after 120s (25 rounds failed): ConnectionRefusedError: "
        "connect call failed ('127.0.0.1', 5432)",
        "alert check resumed after 150s (30 rounds failed)",
        "alert check failed",
    ]
    assert [record.exc_info is not None for record in lines.records] == [False] * 4 + [True]
