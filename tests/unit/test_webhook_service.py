"""Webhook monitoring on the memory adapters: no event dropped, repeats change nothing,
figures equal the events."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from dashboard_api.adapters.files.webhook_file import load_webhook_file
from dashboard_api.domain.errors import Conflict, InvalidInput
from dashboard_api.domain.model.webhook_stats import percentile_ms
from dashboard_api.domain.model.webhooks import (
    RollupSpan,
    TimeRange,
    WebhookConfig,
    WebhookStatus,
    rollup_ranges,
)
from dashboard_api.domain.services.webhooks import NewWebhookEvent, webhook_event_from
from tests.unit.world import START, World, build_world

EXAMPLE = Path(__file__).parents[2] / "webhooks.example.toml"


@pytest.fixture
def world() -> World:
    return build_world()


def _event(**fields: object) -> NewWebhookEvent:
    values: dict[str, object] = {"webhook_id": "gh", "provider": "github", "event_type": "push"}
    values.update(fields)
    return NewWebhookEvent(**values)  # type: ignore[arg-type]


async def test_an_event_of_an_unconfigured_webhook_is_recorded_and_counted(world: World) -> None:
    event, changed = await world.webhooks.record_event(_event(webhook_id="stranger"))
    assert changed
    listed = await world.webhooks.list_webhooks(limit=10, after=None)
    assert [(w.webhook_id, w.configured, w.events_total) for w in listed.items] == [
        ("stranger", False, 1)
    ]
    stats = await world.webhooks.stats(start=None, end=None)
    assert [(s.webhook_id, s.configured, s.total) for s in stats.items] == [("stranger", False, 1)]
    assert world.bus.on("webhooks")[0]["event_id"] == event.event_id


async def test_a_repeated_report_changes_nothing(world: World) -> None:
    first, created = await world.webhooks.record_event(_event(event_id="e-1", latency_ms=12))
    again, changed = await world.webhooks.record_event(_event(event_id="e-1", latency_ms=12))
    assert created
    assert not changed
    assert again == first
    assert len(world.bus.on("webhooks")) == 1
    assert (await world.webhooks.stats(start=None, end=None)).items[0].total == 1


async def test_a_received_event_moves_on_to_one_final_status(world: World) -> None:
    await world.webhooks.record_event(_event(event_id="e-1", payload={"ref": "main"}))
    done, changed = await world.webhooks.record_event(
        _event(event_id="e-1", status=WebhookStatus.PROCESSED, latency_ms=80, task_id="t-1")
    )
    assert changed
    assert (done.status, done.latency_ms, done.task_id, done.payload) == (
        WebhookStatus.PROCESSED,
        80,
        "t-1",
        {"ref": "main"},
    )
    with pytest.raises(Conflict):
        await world.webhooks.record_event(_event(event_id="e-1", status=WebhookStatus.FAILED))
    stats = (await world.webhooks.stats(start=None, end=None)).items[0]
    assert (stats.total, stats.received, stats.processed) == (1, 0, 1)
    assert (stats.latency_p50_ms, stats.latency_p95_ms) == (100, 100)


async def test_stats_count_statuses_and_rate_success_over_finished_events(world: World) -> None:
    statuses = [WebhookStatus.PROCESSED] * 6 + [WebhookStatus.FAILED] * 2
    statuses += [WebhookStatus.SKIPPED, WebhookStatus.RECEIVED]
    for i, status in enumerate(statuses):
        await world.webhooks.record_event(_event(status=status, latency_ms=i * 100))
        world.clock.advance(minutes=7)
    await world.webhooks.record_event(_event(webhook_id="jira", provider="jira"))
    stats = await world.webhooks.stats(start=None, end=None, webhook_id="gh")
    [line] = stats.items
    assert (line.total, line.processed, line.failed, line.skipped, line.received) == (
        10,
        6,
        2,
        1,
        1,
    )
    assert line.success_rate == 0.75
    assert line.last_received_at == START + timedelta(minutes=63)
    # latencies 0..900 ms: the median rank (5th of 10) is 400 ms, in the (250, 500] bucket
    assert (line.latency_p50_ms, line.latency_p95_ms) == (500, 1000)


async def test_a_stats_window_covers_whole_hours(world: World) -> None:
    await world.webhooks.record_event(_event(created_at=START - timedelta(hours=3)))
    await world.webhooks.record_event(_event(created_at=START - timedelta(minutes=30)))
    world.clock.advance(minutes=10)
    report = await world.webhooks.stats(start=START - timedelta(minutes=59), end=None)
    assert report.window_from == START - timedelta(hours=1)
    assert report.window_to == START + timedelta(hours=1)
    assert report.items[0].total == 1
    with pytest.raises(InvalidInput):
        await world.webhooks.stats(start=START, end=START - timedelta(minutes=1))


async def test_configs_merge_with_the_file_first_and_never_show_a_secret(world: World) -> None:
    world.db_configs.configs["gh"] = WebhookConfig(
        webhook_id="gh", name="db", provider="github", endpoint="/db", has_secret=False
    )
    world.db_configs.configs["db-only"] = WebhookConfig(
        webhook_id="db-only", name="db", provider="jira", endpoint="/jira"
    )
    world.file_configs.configs["gh"] = WebhookConfig(
        webhook_id="gh",
        name="file",
        provider="github",
        endpoint="/f",
        has_secret=True,
        origin="file",
    )
    listed = await world.webhooks.list_webhooks(limit=1, after=None)
    assert [(w.webhook_id, w.name, w.has_secret) for w in listed.items] == [
        ("db-only", "db", False)
    ]
    assert listed.next_cursor is not None
    rest = await world.webhooks.list_webhooks(limit=5, after="db-only")
    assert [(w.webhook_id, w.name, w.origin, w.has_secret) for w in rest.items] == [
        ("gh", "file", "file", True)
    ]


def test_the_example_config_file_loads_and_reads_secrets_only_for_presence() -> None:
    configs = load_webhook_file(EXAMPLE, {"GITHUB_WEBHOOK_SECRET": "s3cret"})
    assert [(c.webhook_id, c.has_secret, c.enabled) for c in configs] == [
        ("github-main", True, True),
        ("jira-cloud", False, True),
        ("sentry-alerts", False, False),
    ]
    assert "s3cret" not in repr(configs)
    assert not load_webhook_file(EXAMPLE, {})[0].has_secret


@pytest.mark.parametrize(
    "text",
    [
        "[[webhooks]]\nwebhook_id = 'x'\n",
        "webhooks = 3",
        "[[webhooks]\n",
        "[[webhooks]]\nwebhook_id='a'\nname='n'\nprovider='p'\nendpoint='/e'\ncolour='red'\n",
        "[[webhooks]]\nwebhook_id='a'\nname='n'\nprovider='p'\nendpoint='/e'\n" * 2,
    ],
)
def test_a_malformed_config_file_is_refused_with_its_name(tmp_path: Path, text: str) -> None:
    path = tmp_path / "hooks.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match=r"hooks\.toml"):
        load_webhook_file(path, {})


def test_percentiles_come_from_the_bucket_holding_the_rank() -> None:
    assert percentile_ms([0] * 12, 0.5) is None
    assert percentile_ms([1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 0.5) == 10
    assert percentile_ms([1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 0.95) == 30000


def test_rollup_ranges_use_whole_days_and_edge_hours() -> None:
    day = START.replace(hour=0)
    assert rollup_ranges(day + timedelta(hours=5), day + timedelta(days=2, hours=3)) == [
        TimeRange(RollupSpan.DAY, day + timedelta(days=1), day + timedelta(days=2)),
        TimeRange(RollupSpan.HOUR, day + timedelta(hours=5), day + timedelta(days=1)),
        TimeRange(RollupSpan.HOUR, day + timedelta(days=2), day + timedelta(days=2, hours=3)),
    ]
    assert rollup_ranges(day + timedelta(hours=1), day + timedelta(hours=4)) == [
        TimeRange(RollupSpan.HOUR, day + timedelta(hours=1), day + timedelta(hours=4))
    ]


def test_an_ingested_stream_entry_becomes_an_event_or_a_named_error() -> None:
    raw = {
        "webhook_id": "gh",
        "provider": "github",
        "event_type": "push",
        "status": "processed",
        "latency_ms": "15",
        "created_at": "2026-11-24T10:00:00",
    }
    new = webhook_event_from(raw)
    assert (new.status, new.latency_ms, new.created_at) == (
        WebhookStatus.PROCESSED,
        15,
        START.replace(hour=10),
    )
    for bad, field in (
        ({**raw, "status": "odd"}, "status"),
        ({**raw, "webhook_id": "x" * 129}, "webhook_id"),
        ({**raw, "latency_ms": -4}, "latency_ms"),
        ({k: v for k, v in raw.items() if k != "provider"}, "event"),
    ):
        with pytest.raises(InvalidInput) as error:
            webhook_event_from(bad)
        assert error.value.field == field


async def test_the_ingestor_records_through_the_same_idempotent_method(world: World) -> None:
    raw = {"event_id": "s-1", "webhook_id": "gh", "provider": "github", "event_type": "push"}
    assert (await world.webhooks.record_event(webhook_event_from(raw)))[1]
    assert not (await world.webhooks.record_event(webhook_event_from(raw)))[1]
