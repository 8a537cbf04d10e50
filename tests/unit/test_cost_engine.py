"""The cost engine: tasks reported without cost_usd are priced from the model price table."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from dashboard_api.adapters.memory import MemoryDatabase, MemoryTaskStore, MemoryUnitOfWork
from dashboard_api.domain.errors import InvalidInput
from dashboard_api.domain.model.pricing import PriceTable
from dashboard_api.domain.model.tasks import NewTask, TaskPatch, TaskStatus
from dashboard_api.domain.services.tasks import TaskService
from dashboard_api.price_file import load_prices
from tests.unit.fakes import RecordingBus

PRICES = PriceTable.from_mapping(
    {
        "version": "v7",
        "models": {
            "sonnet": {"input": "3", "output": "15", "cache_read": "0.30", "cache_write": "3.75"},
        },
    }
)


@pytest.fixture
def service() -> TaskService:
    db = MemoryDatabase()
    return TaskService(
        unit_of_work=lambda: MemoryUnitOfWork(db),
        reads=MemoryTaskStore(db),
        bus=RecordingBus(),
        clock=lambda: datetime(2026, 11, 24, 12, tzinfo=UTC),
        prices=PRICES,
    )


async def test_a_finished_task_without_cost_is_priced_exactly_with_the_version(
    service: TaskService,
) -> None:
    task = await service.register(NewTask(agent_type="coder", model="sonnet"))
    done = await service.update(
        task.task_id,
        TaskPatch(
            status=TaskStatus.COMPLETED,
            input_tokens=1_234,
            output_tokens=567,
            cache_read_tokens=10_000,
            cache_write_tokens=2_000,
        ),
    )
    # 1234*3 + 567*15 + 10000*0.30 + 2000*3.75 = 3702 + 8505 + 3000 + 7500 = 22707 per 1e6
    assert done.cost_usd == Decimal("0.022707")
    assert done.price_version == "v7"


async def test_a_reported_cost_wins_and_later_token_corrections_keep_it(
    service: TaskService,
) -> None:
    task = await service.register(NewTask(agent_type="coder", model="sonnet"))
    reported = await service.update(
        task.task_id, TaskPatch(cost_usd=Decimal("0.5"), input_tokens=1_000)
    )
    assert (reported.cost_usd, reported.price_version) == (Decimal("0.5"), None)
    corrected = await service.update(task.task_id, TaskPatch(input_tokens=2_000))
    assert corrected.cost_usd == Decimal("0.5")


async def test_a_priced_task_is_repriced_when_its_tokens_are_corrected(
    service: TaskService,
) -> None:
    task = await service.register(NewTask(agent_type="coder", model="sonnet"))
    await service.update(task.task_id, TaskPatch(input_tokens=1_000_000))
    corrected = await service.update(task.task_id, TaskPatch(input_tokens=2_000_000))
    assert (corrected.cost_usd, corrected.price_version) == (Decimal("6"), "v7")


async def test_a_model_without_a_price_keeps_its_cost(service: TaskService) -> None:
    task = await service.register(NewTask(agent_type="coder", model="mystery"))
    done = await service.update(task.task_id, TaskPatch(input_tokens=1_000))
    assert (done.cost_usd, done.price_version) == (Decimal(0), None)


def test_the_shipped_price_table_loads_with_a_version() -> None:
    prices = load_prices()
    assert prices.version
    price = prices.price_for("gpt-4o-mini", datetime(2026, 1, 1, tzinfo=UTC))
    assert price is not None
    assert price.cache_read == Decimal("0.075")


def test_a_broken_price_file_stops_start_up_naming_it(tmp_path: Path) -> None:
    broken = tmp_path / "prices.toml"
    broken.write_text('version = "x"\n[models.m]\ninput = "-1"\noutput = "1"\n')
    with pytest.raises(SystemExit, match=r"prices\.toml"):
        load_prices(broken)
    with pytest.raises(InvalidInput):
        PriceTable.from_mapping({"models": {}})
