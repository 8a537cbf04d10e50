"""The webhook event, rollup, source and OAuth contract, on every adapter."""

from __future__ import annotations

import random
from datetime import timedelta

import msgspec
import pytest

from dashboard_api.domain.errors import Conflict
from dashboard_api.domain.model.sources import (
    DataSource,
    OAuthInstallation,
    SourceCursor,
    SourceKind,
    SyncJob,
    SyncStatus,
)
from dashboard_api.domain.model.webhook_stats import fold_stats
from dashboard_api.domain.model.webhooks import (
    LATENCY_BUCKETS,
    RollupSum,
    WebhookEvent,
    WebhookEventCursor,
    WebhookEventQuery,
    WebhookStatus,
    latency_bucket,
    rollup_deltas,
    rollup_ranges,
)
from tests.contract.conftest import Backend
from tests.factories import EPOCH
from tests.record_factories import webhook_event


async def _record(backend: Backend, events: list[WebhookEvent]) -> None:
    async with backend.unit_of_work() as uow:
        for event in events:
            before = await uow.webhook_events.get(event.event_id)
            if before is None:
                await uow.webhook_events.add(event)
            else:
                await uow.webhook_events.replace(event)
            await uow.webhook_rollups.apply(rollup_deltas(before, event))
        await uow.commit()


def _naive_sums(events: list[WebhookEvent], start: object, end: object) -> list[RollupSum]:
    groups: dict[tuple[str, str, WebhookStatus], list[WebhookEvent]] = {}
    for event in events:
        if start <= event.created_at < end:  # type: ignore[operator]
            groups.setdefault((event.webhook_id, event.provider, event.status), []).append(event)
    sums = []
    for (webhook_id, provider, status), rows in sorted(groups.items()):
        counts = [0] * LATENCY_BUCKETS
        for row in rows:
            bucket = latency_bucket(row.latency_ms)
            if bucket is not None:
                counts[bucket] += 1
        sums.append(
            RollupSum(
                webhook_id=webhook_id,
                provider=provider,
                status=status,
                events=len(rows),
                last_received_at=max(row.created_at for row in rows),
                latency_counts=tuple(counts),
            )
        )
    return sums


async def test_an_event_reads_back_with_its_payload_and_lists_without(backend: Backend) -> None:
    event = webhook_event(payload={"ref": "main", "commits": [1, 2]}, error="é", http_status=202)
    await _record(backend, [event])
    assert await backend.webhook_events.get(event.event_id) == event
    listed = await backend.webhook_events.find(WebhookEventQuery())
    assert listed == [msgspec.structs.replace(event, payload=None)]
    with pytest.raises(Conflict):
        async with backend.unit_of_work() as uow:
            await uow.webhook_events.add(event)


async def test_events_page_newest_first_with_filters(backend: Backend) -> None:
    events = [webhook_event() for _ in range(40)]
    await _record(backend, events)
    window = (EPOCH + timedelta(days=1), EPOCH + timedelta(days=2))
    for query in (
        WebhookEventQuery(limit=7),
        WebhookEventQuery(limit=5, webhook_id="jira"),
        WebhookEventQuery(limit=5, provider="github", status=WebhookStatus.FAILED),
        WebhookEventQuery(limit=3, created_after=window[0], created_before=window[1]),
    ):
        expected = sorted(
            (
                e
                for e in events
                if query.webhook_id in (None, e.webhook_id)
                and query.provider in (None, e.provider)
                and query.status in (None, e.status)
                and (query.created_after is None or e.created_at >= query.created_after)
                and (query.created_before is None or e.created_at < query.created_before)
            ),
            key=lambda e: (e.created_at, e.event_id),
            reverse=True,
        )
        seen: list[WebhookEvent] = []
        while True:
            page = await backend.webhook_events.find(query)
            seen += page
            if len(page) < query.limit:
                break
            after = WebhookEventCursor(page[-1].created_at, page[-1].event_id)
            query = msgspec.structs.replace(query, after=after)
        assert [e.event_id for e in seen] == [e.event_id for e in expected]


async def test_rollup_sums_equal_the_raw_events_for_any_window(backend: Backend) -> None:
    random.seed(7)
    events = [webhook_event() for _ in range(150)]
    await _record(backend, events)
    # Half of the received events later finish: rollups move them between statuses.
    finished = [
        msgspec.structs.replace(e, status=WebhookStatus.PROCESSED, latency_ms=70)
        for e in events[:80]
        if e.status is WebhookStatus.RECEIVED
    ]
    await _record(backend, finished)
    final = {e.event_id: e for e in [*events, *finished]}
    for start, end in (
        (None, EPOCH + timedelta(days=5)),
        (EPOCH + timedelta(hours=5), EPOCH + timedelta(days=2, hours=3)),
        (EPOCH + timedelta(days=1), EPOCH + timedelta(days=2)),
        (EPOCH + timedelta(hours=30), EPOCH + timedelta(hours=33)),
    ):
        sums = await backend.webhook_rollups.sums(
            rollup_ranges(start, end), webhook_id=None, provider=None
        )
        naive = _naive_sums(list(final.values()), start or EPOCH - timedelta(days=1), end)
        assert fold_stats(sums, ()) == fold_stats(naive, ())
        assert [(s.webhook_id, s.status, s.events) for s in sums] == [
            (s.webhook_id, s.status, s.events) for s in naive
        ]
    only = await backend.webhook_rollups.sums(
        rollup_ranges(None, EPOCH + timedelta(days=5)), webhook_id="jira", provider="github"
    )
    assert {(s.webhook_id, s.provider) for s in only} <= {("jira", "github")}


def _source(**overrides: object) -> DataSource:
    values: dict[str, object] = {
        "source_id": f"s-{random.randint(0, 10**9)}",
        "kind": SourceKind.GITHUB_REPO,
        "name": "api",
        "external_ref": "acme/api",
        "created_at": EPOCH + timedelta(minutes=random.randint(0, 1000)),
    }
    values.update(overrides)
    return DataSource(**values)  # type: ignore[arg-type]


async def test_sources_keep_their_sync_job_and_page_newest_first(backend: Backend) -> None:
    sources = [_source() for _ in range(9)]
    async with backend.unit_of_work() as uow:
        for source in sources:
            await uow.sources.add(source)
        await uow.commit()
    job = SyncJob(job_id="j1", status=SyncStatus.FAILED, requested_at=EPOCH, error="boom")
    synced = msgspec.structs.replace(sources[0], last_sync=job, version=2)
    async with backend.unit_of_work() as uow:
        assert await uow.sources.replace(synced, expected_version=1)
        assert not await uow.sources.replace(synced, expected_version=1)
        assert await uow.sources.delete(sources[1].source_id)
        await uow.commit()
    assert await backend.sources.get(sources[0].source_id) == synced
    expected = sorted(
        [synced, *sources[2:]], key=lambda s: (s.created_at, s.source_id), reverse=True
    )
    first = await backend.sources.find(limit=5, after=None)
    cursor = SourceCursor(first[-1].created_at, first[-1].source_id)
    rest = await backend.sources.find(limit=5, after=cursor)
    assert [*first, *rest] == expected


async def test_oauth_status_is_replaced_per_platform(backend: Backend) -> None:
    store = backend.oauth
    first = OAuthInstallation(platform="github", connected=True, scopes=("repo", "read:org"))
    await store.put(first)
    later = OAuthInstallation(
        platform="github", connected=False, installed_at=EPOCH, token_expires_at=EPOCH
    )
    await store.put(later)
    await store.put(OAuthInstallation(platform="jira", connected=True))
    assert [row.platform for row in await store.all()] == ["github", "jira"]
    assert (await store.all())[0] == later
