"""Property: every string the API accepts fits its column, on PostgreSQL (which enforces column
lengths) as on SQLite (which does not); one character more is a 4xx naming the field."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from dashboard_api.http import create_app
from dashboard_api.http.schemas.conversations import ConversationCreate, MessageCreate
from dashboard_api.http.schemas.sources import OAuthInstallationBody, SourceCreate
from dashboard_api.http.schemas.tasks import TaskCreate, TaskUpdate
from dashboard_api.http.schemas.webhooks import WebhookEventCreate
from dashboard_api.settings import Settings
from tests.conftest import UNLIMITED

pytestmark = pytest.mark.integration
Client = AsyncTestClient  # type: ignore[type-arg]

# Each body route, the struct that declares its fields, and a valid body to add one field to.
ROUTES: tuple[tuple[str, str, type[msgspec.Struct], dict[str, Any]], ...] = (
    ("POST", "/api/tasks", TaskCreate, {"agent_type": "coder"}),
    ("PATCH", "/api/tasks/seed", TaskUpdate, {}),
    ("POST", "/api/conversations", ConversationCreate, {"agent_type": "coder"}),
    ("POST", "/api/conversations/c1/messages", MessageCreate, {"role": "system", "content": "x"}),
    (
        "POST",
        "/api/sources",
        SourceCreate,
        {"kind": "github_repo", "name": "n", "external_ref": "r"},
    ),
    ("PUT", "/api/oauth/status/github", OAuthInstallationBody, {"connected": True}),
    (
        "POST",
        "/api/webhooks/events",
        WebhookEventCreate,
        {"webhook_id": "gh", "provider": "github", "event_type": "push"},
    ),
)
# A message's task must exist: refused for that reason, whatever its length.
NEEDS_A_REFERENT = {("/api/conversations/c1/messages", "task_id")}


def _max_length(kind: msgspec.inspect.Type) -> int | None:
    if isinstance(kind, msgspec.inspect.StrType):
        return kind.max_length
    if isinstance(kind, msgspec.inspect.UnionType):
        lengths = [_max_length(member) for member in kind.types]
        return next((length for length in lengths if length is not None), None)
    return None


def string_fields() -> list[tuple[str, str, str, dict[str, Any], int]]:
    """(method, path, field, base body, max length) of every bounded string field."""
    found = []
    for method, path, struct, base in ROUTES:
        info = msgspec.inspect.type_info(struct)
        assert isinstance(info, msgspec.inspect.StructType)
        for field in info.fields:
            limit = _max_length(field.type)
            if limit is not None and (path, field.name) not in NEEDS_A_REFERENT:
                found.append((method, path, field.name, base, limit))
    return found


FIELDS = string_fields()


@pytest.fixture(params=["sqlite", "postgres"])
async def client(
    request: pytest.FixtureRequest, sqlite_url: str, postgres_url: str, clean_postgres: AsyncEngine
) -> AsyncIterator[Client]:
    url = postgres_url if request.param == "postgres" else sqlite_url
    app = create_app(Settings(database_url=url, db_pool_size=2, **UNLIMITED))
    async with AsyncTestClient(app, base_url="http://127.0.0.1") as test_client:
        await test_client.post("/api/tasks", json={"agent_type": "coder", "task_id": "seed"})
        await test_client.post(
            "/api/conversations", json={"agent_type": "coder", "conversation_id": "c1"}
        )
        yield test_client


def test_every_body_route_declares_bounded_strings() -> None:
    assert {path for _, path, *_ in FIELDS} == {path for _, path, _, _ in ROUTES}
    assert ("POST", "/api/tasks", "source") in {(m, p, f) for m, p, f, _, _ in FIELDS}


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=st.sampled_from(FIELDS), over=st.integers(-2, 1), salt=st.integers(0, 10**6))
async def test_a_string_up_to_its_limit_is_stored_and_one_more_is_a_4xx(
    client: Client, case: tuple[str, str, str, dict[str, Any], int], over: int, salt: int
) -> None:
    method, path, field, base, limit = case
    length = max(1, limit + over)
    # Letters only, so id patterns accept it; the salt keeps new ids from colliding.
    value = (f"s{salt}x" + "ab" * length)[:length]
    if field == "scopes":
        body: dict[str, Any] = {**base, field: [value]}
    else:
        body = {**base, field: value}
    response = await client.request(method, path, json=body)
    if length <= limit:
        assert response.status_code in (200, 201, 409), (field, length, response.text)
    else:
        assert 400 <= response.status_code < 500, (field, length, response.text)
        problem = response.json()
        named = [problem.get("field")] + [e.get("field") for e in problem.get("errors", [])]
        assert any(name and field in name for name in named), problem


async def test_a_source_name_of_64_characters_is_stored_on_postgres(
    postgres_url: str, clean_postgres: AsyncEngine
) -> None:
    app = create_app(Settings(database_url=postgres_url, db_pool_size=2))
    async with AsyncTestClient(app, base_url="http://127.0.0.1") as client:
        created = await client.post(
            "/api/tasks", json={"agent_type": "coder", "task_id": "s64", "source": "s" * 64}
        )
        assert created.status_code == 201, created.text
        assert (await client.get("/api/tasks/s64")).json()["source"] == "s" * 64
