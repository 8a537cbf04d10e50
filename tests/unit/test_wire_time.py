"""`wire_time` writes what `isoformat()` writes, with `+00:00` as `Z` (its faster form must not
change a byte of any event)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

from dashboard_api.domain.model.channels import wire_time

_ZONES = [
    UTC,
    timezone(timedelta(0)),
    timezone(timedelta(hours=2)),
    timezone(timedelta(hours=-5, minutes=-30)),
    None,
]


def test_wire_time_is_isoformat_with_z() -> None:
    rng = random.Random(7)
    for _ in range(20_000):
        moment = datetime(
            rng.randrange(1, 10_000),
            rng.randrange(1, 13),
            rng.randrange(1, 29),
            rng.randrange(24),
            rng.randrange(60),
            rng.randrange(60),
            rng.choice([0, 1, 1000, 500_000, rng.randrange(1_000_000)]),
            tzinfo=rng.choice(_ZONES),
        )
        assert wire_time(moment) == moment.isoformat().replace("+00:00", "Z")


def test_wire_time_of_nothing_is_none() -> None:
    assert wire_time(None) is None
    assert wire_time(datetime(2026, 11, 30, 20, 0, tzinfo=UTC)) == "2026-11-30T20:00:00Z"
