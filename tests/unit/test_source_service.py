"""Knowledge sources and OAuth status on the memory adapters."""

from __future__ import annotations

import pytest

from dashboard_api.domain.errors import Conflict, InvalidInput, NotFound
from dashboard_api.domain.model.sources import OAuthInstallation, SourceKind, SyncStatus
from dashboard_api.domain.services.sources import NewSource, SyncReport
from tests.unit.world import INDEXER, START, World, build_world


@pytest.fixture
def world() -> World:
    return build_world()


async def _source(world: World) -> str:
    new = NewSource(kind=SourceKind.JIRA_PROJECT, name="Platform", external_ref="PLAT")
    return (await world.sources.add(new)).source_id


async def test_a_sync_request_queues_one_job_for_the_indexer(world: World) -> None:
    source_id = await _source(world)
    queued = await world.sources.request_sync(source_id)
    assert queued.sync_status is SyncStatus.QUEUED
    assert queued.last_sync is not None
    again = await world.sources.request_sync(source_id)
    assert again.last_sync == queued.last_sync
    assert world.queue.entries(INDEXER) == [
        {
            "type": "sync_requested",
            "job_id": queued.last_sync.job_id,
            "source_id": source_id,
            "kind": "jira_project",
            "external_ref": "PLAT",
            "requested_at": "2026-11-24T12:00:00Z",
        }
    ]


async def test_the_indexer_reports_its_job_forward_only(world: World) -> None:
    source_id = await _source(world)
    job = (await world.sources.request_sync(source_id)).last_sync
    assert job is not None
    world.clock.advance(seconds=5)
    running = await world.sources.report_sync(
        source_id, SyncReport(job_id=job.job_id, status=SyncStatus.RUNNING)
    )
    assert running.last_sync is not None
    assert running.last_sync.started_at == world.clock.now
    world.clock.advance(seconds=5)
    done = await world.sources.report_sync(
        source_id, SyncReport(job_id=job.job_id, status=SyncStatus.SUCCEEDED, documents=42)
    )
    assert done.last_sync is not None
    assert (done.sync_status, done.last_sync.documents) == (SyncStatus.SUCCEEDED, 42)
    assert done.last_sync.finished_at == world.clock.now
    with pytest.raises(Conflict):
        await world.sources.report_sync(
            source_id, SyncReport(job_id=job.job_id, status=SyncStatus.RUNNING)
        )
    with pytest.raises(Conflict):
        await world.sources.report_sync(
            source_id, SyncReport(job_id="another", status=SyncStatus.FAILED)
        )
    with pytest.raises(InvalidInput):
        await world.sources.report_sync(
            source_id, SyncReport(job_id=job.job_id, status=SyncStatus.QUEUED)
        )
    next_job = (await world.sources.request_sync(source_id)).last_sync
    assert next_job is not None
    assert next_job.job_id != job.job_id
    assert len(world.queue.entries(INDEXER)) == 2


async def test_removed_or_unknown_sources_are_not_found(world: World) -> None:
    source_id = await _source(world)
    await world.sources.delete(source_id)
    for action in (world.sources.get, world.sources.delete, world.sources.request_sync):
        with pytest.raises(NotFound):
            await action(source_id)


async def test_oauth_status_lists_known_platforms_even_before_installation(world: World) -> None:
    await world.oauth.record(
        OAuthInstallation(platform="jira", connected=True, scopes=("read",), installed_at=START)
    )
    with pytest.raises(InvalidInput):
        await world.oauth.record(OAuthInstallation(platform="myspace", connected=True))
    status = await world.oauth.status()
    assert [(row.platform, row.connected, row.scopes) for row in status] == [
        ("github", False, ()),
        ("jira", True, ("read",)),
    ]
