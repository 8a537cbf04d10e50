"""The OriginStore contract: flows claimed once, origins merged, on every adapter."""

from __future__ import annotations

import asyncio

import pytest

from dashboard_api.adapters.memory.origins import MemoryOriginStore
from dashboard_api.adapters.sqlalchemy.origins import SqlOriginStore
from dashboard_api.domain.model.origins import ConversationFlow, TaskOrigin
from dashboard_api.domain.ports import OriginStore
from tests.factories import EPOCH


@pytest.fixture(
    params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.integration)]
)
def store(request: pytest.FixtureRequest) -> OriginStore:
    if request.param == "memory":
        return MemoryOriginStore()
    fixture = "sqlite_engine" if request.param == "sqlite" else "clean_postgres"
    return SqlOriginStore(request.getfixturevalue(fixture))


def _flow(conversation_id: str, flow_id: str = "github:acme/shop#12") -> ConversationFlow:
    return ConversationFlow(
        flow_id=flow_id,
        conversation_id=conversation_id,
        source="github",
        metadata={"repo": "acme/shop", "number": 12, "title": "ünïcode ✓"},
        created_at=EPOCH,
    )


async def test_a_linked_flow_reads_back_exactly(store: OriginStore) -> None:
    flow = _flow("c-1")
    assert await store.link_flow(flow) == flow
    assert await store.flow(flow.flow_id) == flow
    assert await store.flow("jira:KEY-1") is None


async def test_the_first_conversation_to_link_a_flow_keeps_it(store: OriginStore) -> None:
    first = await store.link_flow(_flow("c-1"))
    second = await store.link_flow(_flow("c-2"))
    assert second == first
    assert (await store.flow(first.flow_id)) == first


async def test_concurrent_links_agree_on_one_conversation(store: OriginStore) -> None:
    flows = await asyncio.gather(
        *(store.link_flow(_flow(f"c-{i}", "slack:C1:17.1")) for i in range(5))
    )
    assert len({flow.conversation_id for flow in flows}) == 1


async def test_a_later_origin_fills_in_and_never_erases(store: OriginStore) -> None:
    await store.put_origin(TaskOrigin(task_id="t-1", source_metadata={"source": "github"}))
    merged = await store.put_origin(TaskOrigin(task_id="t-1", flow_id="github:acme/shop#12"))
    expected = TaskOrigin(
        task_id="t-1", flow_id="github:acme/shop#12", source_metadata={"source": "github"}
    )
    assert merged == expected
    assert await store.put_origin(TaskOrigin(task_id="t-1")) == expected
    assert await store.origin("t-1") == expected
    assert await store.origin("t-2") is None
