"""One rule for every time the service takes in: RFC 3339 text, UTC, inside one range.

Every route and every event that carries a time (query filters, body fields, OAuth times,
cursors, engine events) goes through `to_utc` (and text through `parse_time`), so a time that
cannot be stored or bucketed is refused naming its field, never met later as an overflow.
"""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec

from dashboard_api.domain.errors import InvalidInput

# Wide enough for any real task or event, and far from datetime's own limits (years 1-9999),
# so hour, day and window arithmetic on an accepted time can never overflow.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)  # exclusive


def to_utc(moment: datetime, field: str) -> datetime:
    """`moment` in UTC (a time without a zone is read as UTC), if it falls in
    [EARLIEST, LATEST); otherwise `InvalidInput` naming `field`."""
    try:
        utc = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (OverflowError, ValueError):  # the zone moves it past year 1 or 9999
        utc = None
    if utc is None or not EARLIEST <= utc < LATEST:
        raise InvalidInput(
            f"{field} must be a time from {EARLIEST.year} to {LATEST.year - 1} (UTC)", field=field
        )
    return utc


def parse_time(text: str, field: str) -> datetime:
    """An RFC 3339 time given as text (a query parameter), checked like every other time.

    The same parser (msgspec's) reads times in JSON bodies, so both accept the same forms."""
    try:
        moment = msgspec.convert(text, datetime)
    except msgspec.ValidationError as exc:
        raise InvalidInput(f"{field} is not an RFC 3339 time", field=field) from exc
    return to_utc(moment, field)


def optional_utc(moment: datetime | None, field: str) -> datetime | None:
    """`to_utc` for an optional time."""
    return None if moment is None else to_utc(moment, field)


def time_window(
    start: datetime | None, end: datetime | None, fields: tuple[str, str]
) -> tuple[datetime | None, datetime | None]:
    """A [start, end) filter: both checked, and start before end when both are given."""
    window = optional_utc(start, fields[0]), optional_utc(end, fields[1])
    if window[0] is not None and window[1] is not None and window[0] >= window[1]:
        raise InvalidInput(f"{fields[0]} must be before {fields[1]}", field=fields[0])
    return window


def parse_window(
    start: str | None, end: str | None, fields: tuple[str, str], *, ordered: bool = True
) -> tuple[datetime | None, datetime | None]:
    """The one reading of a time window's two query parameters: each an ISO 8601 time with a
    zone, and (`ordered`) start before end. Analytics checks the order itself, with its span."""
    window = (
        None if start is None else parse_time(start, fields[0]),
        None if end is None else parse_time(end, fields[1]),
    )
    return time_window(*window, fields) if ordered else window
