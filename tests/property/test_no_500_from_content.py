"""Property: no content a client sends is a 500. Bad times, cursors, JSON bodies and ids are a
4xx problem that names what is wrong, and change nothing."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar.testing import TestClient

from dashboard_api.bootstrap.adapters import memory_adapters
from dashboard_api.http import create_app
from dashboard_api.settings import Settings
from tests.conftest import UNLIMITED

Client = TestClient  # type: ignore[type-arg]
PROBLEM = "application/problem+json"
FAST = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# Every naive time of datetime's range, with or without any zone a client may write.
OFFSETS = st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
MOMENTS = st.datetimes(
    min_value=datetime(1, 1, 1),
    max_value=datetime(9999, 12, 31, 23, 59, 59),
    timezones=st.none() | OFFSETS,
)
EDGES = st.sampled_from(
    [
        datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5))),
        datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-5))),
        datetime(1969, 12, 31, 23, 59, 59),
        datetime(1970, 1, 1, tzinfo=timezone(timedelta(minutes=1))),
        datetime(8999, 12, 31, 23, 59, 59, tzinfo=UTC),
        datetime(9000, 1, 1),
    ]
)
TIMES = st.one_of(EDGES, MOMENTS)


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    app = create_app(Settings(agents=("planner",), **UNLIMITED), adapters=memory_adapters())
    with TestClient(app, base_url="http://127.0.0.1") as test_client:
        seeded = test_client.post("/api/tasks", json={"agent_type": "coder", "task_id": "seed"})
        assert seeded.status_code == 201
        assert test_client.post(
            "/api/conversations", json={"agent_type": "coder", "conversation_id": "c1"}
        ).is_success
        assert test_client.post(
            "/api/sources",
            json={"kind": "github_repo", "name": "n", "external_ref": "r", "source_id": "s1"},
        ).is_success
        yield test_client


def utc_or_none(moment: datetime) -> datetime | None:
    """The time in UTC, computed without `astimezone`, or None when datetime cannot hold it."""
    offset = moment.utcoffset() or timedelta(0)
    try:
        return (moment.replace(tzinfo=None) - offset).replace(tzinfo=UTC)
    except OverflowError:
        return None


def in_range(moment: datetime) -> bool:
    utc = utc_or_none(moment)
    return utc is not None and datetime(1970, 1, 1, tzinfo=UTC) <= utc < datetime(
        9000, 1, 1, tzinfo=UTC
    )


def assert_problem(response: Any, field: str, *statuses: int) -> None:
    assert response.status_code in statuses, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    named = [body.get("field")] + [error.get("field") for error in body.get("errors", [])]
    assert field in named or field in body.get("detail", ""), body


def snapshot(client: Client) -> list[Any]:
    """What a client can read of every store the bodies below could change."""
    return [
        client.get(path).json()
        for path in (
            "/api/tasks?limit=200",
            "/api/conversations?limit=200",
            "/api/conversations/c1/messages?limit=200",
            "/api/sources?limit=200",
            "/api/webhooks/events?limit=200",
            "/api/oauth/status",
        )
    ]


@FAST
@given(moment=TIMES)
def test_a_time_filter_outside_the_range_is_a_422_naming_it(
    client: Client, moment: datetime
) -> None:
    text = moment.isoformat()
    for path, name in (
        ("/api/tasks", "created_after"),
        ("/api/tasks", "created_before"),
        ("/api/webhooks/events", "from"),
        ("/api/webhooks/stats", "to"),
        ("/api/analytics/summary", "from"),
        ("/api/analytics/summary", "to"),
    ):
        response = client.get(path, params={name: text})
        if in_range(moment):
            assert response.status_code == 200, (path, name, response.text)
        else:
            assert_problem(response, name, 422)


@FAST
@given(moment=TIMES, field=st.sampled_from(["created_at", "started_at", "installed_at"]))
def test_a_body_time_outside_the_range_is_a_422_naming_it_and_changes_nothing(
    client: Client, moment: datetime, field: str
) -> None:
    before = snapshot(client)
    text = moment.isoformat()
    if field == "created_at":
        response = client.post("/api/tasks", json={"agent_type": "coder", "created_at": text})
    elif field == "started_at":
        response = client.patch("/api/tasks/seed", json={"started_at": text})
    else:
        response = client.put("/api/oauth/status/github", json={"connected": True, field: text})
    if in_range(moment):
        assert response.status_code < 500, response.text
        if response.is_success:  # in range, and the domain's own rules allowed it
            return
    else:
        assert_problem(response, field, 422)
    assert snapshot(client) == before


def _cursor(value: object) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode(value)).rstrip(b"=").decode()


CURSOR_ROUTES = (
    "/api/tasks",
    "/api/webhooks",
    "/api/webhooks/events",
    "/api/conversations",
    "/api/conversations/c1/messages",
    "/api/sources",
    "/api/analytics/performance",
    "/api/analytics/performance?group_by=model",
    "/api/analytics/performance?group_by=session",
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=10),
    TIMES.map(lambda moment: moment.isoformat()),
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)
CURSORS = st.one_of(
    # Well-formed keys (a time and an id) with any time, zoned or not, in range or not.
    st.tuples(TIMES.map(lambda moment: moment.isoformat()), st.text(max_size=8)).map(
        lambda key: _cursor(list(key))
    ),
    st.lists(JSON_VALUES, max_size=4).map(_cursor),
    JSON_VALUES.map(_cursor),
    st.binary(max_size=40).map(lambda raw: base64.urlsafe_b64encode(raw).decode()),
    st.text(max_size=30),
)


@FAST
@given(cursor=CURSORS)
def test_a_cursor_this_api_did_not_issue_is_a_400_on_every_list(
    client: Client, cursor: str
) -> None:
    for route in CURSOR_ROUTES:
        path, _, query = route.partition("?")
        params = dict([query.split("=")]) if query else {}
        response = client.get(path, params={**params, "cursor": cursor})
        if response.status_code != 200:
            assert_problem(response, "cursor", 400)


def test_the_reported_cursors_are_400s(client: Client) -> None:
    zoned_year_one = "WyIwMDAxLTAxLTAxVDAwOjAwOjAwKzA1OjAwIiwieCJd"
    zoneless = "WyIyMDI0LTAxLTAxVDAwOjAwOjAwIiwieCJd"
    for path in ("/api/tasks", "/api/webhooks/events", "/api/sources", "/api/conversations"):
        for cursor in (zoned_year_one, zoneless, _cursor(["2024-01-01T00:00:00Z", "x", "extra"])):
            assert_problem(client.get(path, params={"cursor": cursor}), "cursor", 400)


BODY_ROUTES = (
    ("POST", "/api/tasks"),
    ("PATCH", "/api/tasks/seed"),
    ("POST", "/api/conversations"),
    ("PATCH", "/api/conversations/c1"),
    ("POST", "/api/conversations/c1/messages"),
    ("POST", "/api/sources"),
    ("PUT", "/api/sources/s1/sync"),
    ("PUT", "/api/oauth/status/github"),
    ("POST", "/api/webhooks/events"),
)
NOT_JSON = st.one_of(
    st.binary(max_size=64),
    st.integers(1, 3000).map(lambda depth: b"[" * depth + b"]" * depth),
    st.integers(1, 3000).map(lambda depth: b'{"agent_type":' + b"[" * depth + b"]" * depth + b"}"),
    st.binary(min_size=1, max_size=8).map(lambda raw: b'{"agent_type":"' + raw + b'"}'),
    st.sampled_from([b'{"input_tokens":1e999}', b'{"input_tokens":' + b"9" * 400 + b"}", b"\xff"]),
)


@settings(FAST, max_examples=25)
@given(body=NOT_JSON)
def test_any_body_bytes_are_at_worst_a_4xx_and_change_nothing(client: Client, body: bytes) -> None:
    before = snapshot(client)
    accepted = False
    for method, path in BODY_ROUTES:
        response = client.request(
            method, path, content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code < 500, (method, path, response.text)
        if response.is_success:  # the bytes happened to be a valid body (`{"agent_type":"0"}`)
            accepted = True
        else:
            assert response.headers["content-type"].startswith(PROBLEM)
    if not accepted:
        assert snapshot(client) == before


def test_a_body_nested_a_thousand_deep_or_not_utf8_is_a_400_naming_the_body(client: Client) -> None:
    for body in (b"[" * 1000 + b"]" * 1000, b'{"agent_type":"\xff\xfe"}'):
        response = client.post(
            "/api/tasks", content=body, headers={"content-type": "application/json"}
        )
        assert_problem(response, "body", 400)


ID_ALPHABET = st.sampled_from("aZ09._:@-/%?# \\\u00e9")
IDS = st.text(ID_ALPHABET, min_size=1, max_size=12)
PATH_SAFE = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:@-")


def creations(new_id: str) -> list[tuple[str, str, dict[str, Any], str]]:
    """(path to create, field, body, path to read back)."""
    event = {"webhook_id": "gh", "provider": "github", "event_type": "push"}
    return [
        ("/api/tasks", "task_id", {"agent_type": "coder", "task_id": new_id}, "/api/tasks/"),
        (
            "/api/conversations",
            "conversation_id",
            {"agent_type": "coder", "conversation_id": new_id},
            "/api/conversations/",
        ),
        (
            "/api/sources",
            "source_id",
            {"kind": "github_repo", "name": "n", "external_ref": "r", "source_id": new_id},
            "/api/sources/",
        ),
        (
            "/api/webhooks/events",
            "event_id",
            {**event, "event_id": new_id},
            "/api/webhooks/events/",
        ),
    ]


@settings(FAST, max_examples=30)
@given(new_id=IDS)
def test_an_id_a_path_cannot_carry_is_refused_naming_it_and_any_other_is_reachable(
    client: Client, new_id: str
) -> None:
    path_safe = set(new_id) <= PATH_SAFE and new_id[0].isalnum()
    before = None if path_safe else snapshot(client)
    for create_path, field, body, read_path in creations(new_id):
        response = client.post(create_path, json=body)
        if path_safe:
            assert response.status_code in (200, 201, 409), response.text
            assert client.get(read_path + new_id).status_code == 200
        else:
            assert_problem(response, field, 400, 422)
            assert snapshot(client) == before


def test_a_slash_in_an_id_is_refused_everywhere(client: Client) -> None:
    for create_path, field, body, _ in creations("x/stop"):
        assert_problem(client.post(create_path, json=body), field, 400, 422)
