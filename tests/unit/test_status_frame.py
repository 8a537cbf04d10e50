"""An ingest batch announces `status_frame(task)`: its JSON must be byte for byte the JSON of
`status_event(task)` (WebSocket clients and the JS client parse these frames), with every
field set or unset, on both buses' encoders."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import msgspec

from dashboard_api.adapters.redis.bus import encode_event
from dashboard_api.domain.model.channels import StatusEvent, status_event, status_frame
from dashboard_api.domain.model.tasks import INPUT_PREVIEW_CHARS, Task, TaskStatus

_ZONES = [UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5, minutes=-30))]


def _moment(rng: random.Random) -> datetime:
    return datetime(
        rng.randrange(2000, 2100),
        rng.randrange(1, 13),
        rng.randrange(1, 29),
        rng.randrange(24),
        rng.randrange(60),
        rng.randrange(60),
        rng.choice([0, 1, 500_000, rng.randrange(1_000_000)]),
        tzinfo=rng.choice(_ZONES),
    )


def _tasks() -> list[Task]:
    rng = random.Random(11)
    texts = ["", "x", 'quote " back \\ slash', "ctrl \x01\n\t", "non-BMP \U0001f600 é"]
    made = []
    for set_optional, status in itertools.product((False, True), TaskStatus):
        for _ in range(50):
            optional = set_optional or rng.random() < 0.5
            made.append(
                Task(
                    task_id=f"t-{rng.randrange(10**9)}",
                    status=status,
                    agent_type=rng.choice(texts[1:]),
                    source=rng.choice(texts),
                    created_at=_moment(rng),
                    input_message=rng.choice(texts) * rng.randrange(1, 3 * INPUT_PREVIEW_CHARS),
                    assigned_agent=rng.choice(texts) if optional else None,
                    session_id=rng.choice(texts) if optional else None,
                    conversation_id=rng.choice(texts) if optional else None,
                    error=rng.choice(texts) if optional else None,
                    model=rng.choice(texts) if optional else None,
                    cost_usd=Decimal(rng.randrange(10**12)).scaleb(-6),
                    input_tokens=rng.randrange(10**9),
                    output_tokens=rng.randrange(10**9),
                    started_at=_moment(rng) if optional else None,
                    completed_at=_moment(rng) if optional and rng.random() < 0.7 else None,
                    version=rng.randrange(1, 100),
                )
            )
    return made


def test_status_frame_is_status_event_byte_for_byte() -> None:
    for task in _tasks():
        frame = status_frame(task)
        assert isinstance(frame, StatusEvent)
        expected = msgspec.json.encode(status_event(task))
        assert msgspec.json.encode(frame) == expected
        assert encode_event(frame) == encode_event(status_event(task)) == expected
        # The keys, in order, and the values a client decodes are the dict's.
        assert list(msgspec.json.decode(expected)) == list(status_event(task))
        assert msgspec.json.decode(msgspec.json.encode(frame)) == status_event(task)
