"""`hour_of` (kept for the moments seen last) is what `replace` gives, zone and fold included."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

from dashboard_api.domain.model.buckets import hour_of


def test_hour_of_is_the_moment_with_minutes_seconds_and_microseconds_cleared() -> None:
    rng = random.Random(3)
    zones = [UTC, None, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-1))]
    for _ in range(20_000):
        moment = datetime(
            2026,
            rng.randrange(1, 13),
            rng.randrange(1, 29),
            rng.randrange(24),
            rng.randrange(60),
            rng.randrange(60),
            rng.randrange(1_000_000),
            tzinfo=rng.choice(zones),
            fold=rng.randrange(2),
        )
        expected = moment.replace(minute=0, second=0, microsecond=0)
        hour = hour_of(moment)
        assert (hour, hour.tzinfo, hour.fold) == (expected, expected.tzinfo, expected.fold)
        assert hour.isoformat() == expected.isoformat()
