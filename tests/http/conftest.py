from __future__ import annotations

from collections.abc import Iterator

import pytest
from litestar.testing import TestClient

from dashboard_api.bootstrap.adapters import memory_adapters
from dashboard_api.http import create_app
from dashboard_api.settings import Settings


@pytest.fixture
def client() -> Iterator[TestClient]:  # type: ignore[type-arg]
    app = create_app(Settings(agents=("planner",)), adapters=memory_adapters())
    with TestClient(app, base_url="http://127.0.0.1") as test_client:
        yield test_client
