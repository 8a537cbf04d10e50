"""Engine events on the durable stream meet the API's rules: the same ids, limits and times,
and a malformed entry is set aside (dead-lettered) at once, never retried forever."""

from __future__ import annotations

import pytest

from tests.unit.test_ingestion import Rig


@pytest.fixture
def rig() -> Rig:
    return Rig()


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ({"task_id": "a/b"}, "task_id"),
        ({"task_id": "t", "source": "s" * 65}, "source"),
        ({"task_id": "t", "agent_type": "has space"}, "agent_type"),
        ({"task_id": "t", "conversation_id": "c/1"}, "conversation_id"),
        ({"task_id": "t", "occurred_at": "0001-01-01T00:00:00+05:00"}, "occurred_at"),
        ({"task_id": "t", "occurred_at": "1969-12-31T23:59:59Z"}, "occurred_at"),
    ],
)
async def test_an_event_the_api_would_refuse_is_set_aside(
    rig: Rig, event: dict[str, object], reason: str
) -> None:
    await rig.send(**{"event_id": "e1", "type": "task.created", "agent_type": "coder", **event})
    await rig.drain()
    assert rig.ingestor.applied == 0
    assert len(rig.queue.rejected) == 1
    assert reason in rig.queue.rejected[0][1]
    assert await rig.tasks.counts() == await Rig().tasks.counts()


async def test_a_source_of_64_characters_is_stored(rig: Rig) -> None:
    await rig.send(
        event_id="e1", type="task.created", task_id="t", agent_type="coder", source="s" * 64
    )
    await rig.drain()
    assert (await rig.tasks.get("t")).source == "s" * 64


@pytest.mark.parametrize(
    "payload",
    [b"[" * 3000 + b"]" * 3000, b'{"type":"task.created","event_id":"\xff"}', b"\x00"],
)
async def test_an_entry_that_is_not_json_is_set_aside_not_retried(rig: Rig, payload: bytes) -> None:
    await rig.queue.add(payload)
    await rig.drain()
    assert len(rig.queue.rejected) == 1
    assert "not an event" in rig.queue.rejected[0][1]
