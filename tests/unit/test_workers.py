"""Every background loop starts in one place, in a defined order, and stopping stops them all."""

from __future__ import annotations

import asyncio

from dashboard_api.bootstrap import build_services, memory_adapters, running
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
