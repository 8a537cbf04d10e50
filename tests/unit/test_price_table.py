"""Prices as providers bill them: patterns, effective dates, cache lifetimes, reasoning, tiers."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from dashboard_api.cli import main
from dashboard_api.domain.errors import InvalidInput
from dashboard_api.domain.model import pricing
from dashboard_api.domain.model.cost import CostSource, Usage
from dashboard_api.domain.model.pricing import PriceTable
from dashboard_api.domain.model.tasks import NewTask, TaskPatch
from dashboard_api.domain.services.tasks import TaskService
from dashboard_api.price_file import load_prices
from tests.unit.fakes import RecordingBus

SHIPPED = load_prices()
DEC_2025 = datetime(2025, 12, 1, tzinfo=UTC)


def _cost(model: str, usage: Usage, at: datetime = DEC_2025) -> Decimal:
    breakdown = SHIPPED.quote(model, usage, at)
    assert breakdown is not None, model
    return breakdown.total


def test_a_model_id_is_matched_by_its_most_specific_pattern() -> None:
    million_in = Usage(input=1_000_000)
    assert _cost("claude-opus-4-5-20251101", million_in) == Decimal("5")
    assert _cost("claude-opus-4-1-20250805", million_in) == Decimal("15")
    assert _cost("gpt-4o-mini-2024-07-18", million_in) == Decimal("0.15")
    assert _cost("gpt-4o-2024-08-06", million_in) == Decimal("2.5")
    assert _cost("gpt-4o-2024-05-13", million_in) == Decimal("5")


def test_provider_prefixes_fall_back_to_the_bare_model() -> None:
    million_out = Usage(output=1_000_000)
    assert _cost("anthropic/claude-sonnet-4-5-20250929", million_out) == Decimal("15")
    assert _cost("openrouter/anthropic/claude-opus-4.5", million_out) == Decimal("25")
    assert _cost("openrouter/google/gemini-2.5-flash", million_out) == Decimal("2.5")
    assert SHIPPED.quote("openrouter/unknown-model", million_out, DEC_2025) is None


def test_the_price_in_force_at_the_task_time_applies() -> None:
    usage = Usage(input=1_000_000, output=1_000_000)
    assert _cost("o3", usage, datetime(2025, 6, 9, 23, 59, tzinfo=UTC)) == Decimal("50")
    assert _cost("o3", usage, datetime(2025, 6, 10, tzinfo=UTC)) == Decimal("10")


def test_cache_reads_and_both_cache_write_lifetimes_have_their_own_prices() -> None:
    # Sonnet 4.5: read 0.30, 5-minute write 3.75, 1-hour write 6.00 per million.
    usage = Usage(cache_read=100_000, cache_write=60_000, cache_write_1h=20_000)
    breakdown = SHIPPED.quote("claude-sonnet-4-5", usage, DEC_2025)
    assert breakdown is not None
    assert breakdown.cache_read == Decimal("0.03")
    assert breakdown.cache_write_5m == Decimal("0.15")  # 40,000 tokens at 3.75
    assert breakdown.cache_write_1h == Decimal("0.12")  # 20,000 tokens at 6.00
    assert breakdown.total == Decimal("0.3")


def test_above_200k_prompt_tokens_the_whole_request_bills_at_the_tier_rate() -> None:
    at_limit = Usage(input=150_000, cache_read=50_000, output=1_000)
    over = Usage(input=150_001, cache_read=50_000, output=1_000)
    # 150000*3 + 50000*0.30 + 1000*15 = 480000 per million
    assert _cost("claude-sonnet-4-5", at_limit) == Decimal("0.48")
    # 150001*6 + 50000*0.60 + 1000*22.50 = 952506 per million
    breakdown = SHIPPED.quote("claude-sonnet-4-5", over, DEC_2025)
    assert breakdown is not None
    assert (breakdown.total, breakdown.tier_above_prompt_tokens) == (Decimal("0.952506"), 200_000)
    assert _cost("gemini-2.5-pro", Usage(input=200_001)) == Decimal("0.5000025").quantize(
        Decimal("0.000001")
    )


def test_reasoning_tokens_are_part_of_the_output_and_priced_at_their_own_rate() -> None:
    table = PriceTable.from_mapping(
        {
            "version": "t",
            "prices": [{"pattern": "thinker", "input": "1", "output": "2", "reasoning": "10"}],
        }
    )
    breakdown = table.quote("thinker", Usage(output=1_000_000, reasoning=250_000), DEC_2025)
    assert breakdown is not None
    assert (breakdown.output, breakdown.reasoning) == (Decimal("1.5"), Decimal("2.5"))
    # Without a reasoning price (OpenAI, Anthropic), thinking bills as output.
    assert _cost("o4-mini", Usage(output=1_000_000, reasoning=900_000)) == Decimal("4.4")


def test_the_parts_of_a_breakdown_add_up_to_the_rounded_total() -> None:
    # Each part alone has a fraction of a micro-dollar: 7 * 0.075 / 1e6 = 0.000000525.
    usage = Usage(input=7, output=7, cache_read=7)
    breakdown = SHIPPED.quote("gpt-4o-mini", usage, DEC_2025)
    assert breakdown is not None
    exact = (7 * Decimal("0.15") + 7 * Decimal("0.60") + 7 * Decimal("0.075")) / 1_000_000
    assert breakdown.total == exact.quantize(Decimal("0.000001"))
    assert all(0 <= part <= Decimal("0.000006") for part in (breakdown.input, breakdown.output))


def test_the_first_price_file_format_is_still_read() -> None:
    table = PriceTable.from_mapping(
        {"version": "v1", "models": {"sonnet": {"input": "3", "output": "15"}}}
    )
    assert table.quote("sonnet", Usage(input=1_000_000), DEC_2025) is not None


def test_overlapping_prices_are_refused() -> None:
    with pytest.raises(InvalidInput, match="overlap"):
        PriceTable.from_mapping(
            {
                "version": "v",
                "prices": [
                    {"pattern": "m", "input": "1", "output": "1"},
                    {"pattern": "m", "input": "2", "output": "2", "effective_from": "2025-01-01"},
                ],
            }
        )


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "prices.toml"
    path.write_text(text)
    return path


def test_prices_check_names_unknown_fields_overlaps_and_gaps(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["prices", "check", "src/dashboard_api/prices.toml"]) == 0
    unknown = _write(
        tmp_path,
        'version = "x"\n[[prices]]\npattern = "m"\ninput = "1"\noutput = "1"\ncache_writes = "2"\n',
    )
    assert main(["prices", "check", str(unknown)]) == 1
    assert "cache_writes" in capsys.readouterr().err
    timeline = _write(
        tmp_path,
        'version = "x"\n'
        '[[prices]]\npattern = "m"\ninput = "1"\noutput = "1"\neffective_until = 2025-01-01\n'
        '[[prices]]\npattern = "m"\ninput = "1"\noutput = "1"\neffective_from = 2025-02-01\n'
        "effective_until = 2025-04-01\n"
        '[[prices]]\npattern = "m"\ninput = "1"\noutput = "1"\neffective_from = 2025-03-01\n',
    )
    assert main(["prices", "check", str(timeline)]) == 1
    errors = capsys.readouterr().err
    assert "gap: 'm' has no price from 2025-01-01 to 2025-02-01" in errors
    assert "overlap: two prices of 'm' are in force on 2025-03-01" in errors


async def test_a_task_records_whether_its_cost_was_computed_or_reported() -> None:
    from dashboard_api.adapters.memory import MemoryDatabase, MemoryTaskStore, MemoryUnitOfWork

    db = MemoryDatabase()
    service = TaskService(
        unit_of_work=lambda: MemoryUnitOfWork(db),
        reads=MemoryTaskStore(db),
        bus=RecordingBus(),
        clock=lambda: DEC_2025,
        prices=SHIPPED,
    )
    computed = await service.register(NewTask(agent_type="coder", model="claude-haiku-4-5"))
    computed = await service.update(
        computed.task_id,
        TaskPatch(input_tokens=1_000, output_tokens=2_000, reasoning_tokens=500),
    )
    assert computed.cost_source is CostSource.COMPUTED
    assert computed.price_version == SHIPPED.version
    assert computed.cost_breakdown is not None
    assert computed.cost_breakdown.pattern == "claude-haiku-4[-.]5*"
    assert computed.cost_usd == Decimal("0.011")  # 1000*1 + 2000*5 per million
    reported = await service.register(NewTask(agent_type="coder", model="claude-haiku-4-5"))
    reported = await service.update(
        reported.task_id, TaskPatch(cost_usd=Decimal("0.25"), input_tokens=1_000)
    )
    assert (reported.cost_source, reported.cost_breakdown) == (CostSource.REPORTED, None)
    assert reported.price_version is None
    assert reported.reported_cost_usd == Decimal("0.25")  # the engine's figure, kept beside
    assert computed.reported_cost_usd is None


def test_remembered_matches_are_the_tables_own_per_day() -> None:
    """`_match` remembers answers per table, model and day: each answer is what the table
    finds afresh, a reloaded table answers by its own prices, and the memory stays bounded."""
    models = ["claude-opus-4-5-20251101", "openrouter/anthropic/claude-sonnet-4", "gpt-4o", "x"]
    days = [DEC_2025, datetime(2024, 1, 1, tzinfo=UTC), datetime(2026, 6, 30, 23, tzinfo=UTC)]
    for model in models:
        for at in days:
            assert SHIPPED._match(model, at) == SHIPPED._find(model, at)
            assert SHIPPED._match(model, at) == SHIPPED._find(model, at)  # remembered
    cheap = PriceTable.from_mapping(
        {"version": "t", "prices": [{"pattern": "gpt-4o", "input": "1", "output": "2"}]}
    )
    found = cheap._match("gpt-4o", DEC_2025)
    assert found is not None
    assert found[0].input == Decimal("1")
    assert SHIPPED._match("gpt-4o", DEC_2025) != found
    for n in range(5000):
        cheap._match(f"model-{n}", DEC_2025)
    assert len(pricing._MATCHES) <= pricing._MATCHES_KEPT
