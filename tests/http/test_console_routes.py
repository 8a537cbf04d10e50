"""The console's files: `/` opens it, it is served from the package, and it is public (the page
holds no data; it asks for a token when the API answers 401)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from litestar.testing import TestClient

from dashboard_api.bootstrap.adapters import memory_adapters
from dashboard_api.http.app import create_app
from dashboard_api.http.console import STATIC_DIRECTORY
from dashboard_api.settings import Settings

Client = TestClient  # type: ignore[type-arg]
TOKENS = "ui:read:console-route-test-secret"


@pytest.fixture
def client() -> Iterator[Client]:
    app = create_app(Settings(api_tokens=TOKENS), adapters=memory_adapters())
    with TestClient(app, base_url="http://127.0.0.1") as test_client:
        yield test_client


def test_the_root_redirects_to_the_console(client: Client) -> None:
    response = client.get("/", follow_redirects=False)
    assert response.status_code in (301, 302, 307, 308)
    assert response.headers["location"] == "/console/"


def test_the_page_and_its_modules_are_served_without_a_token(client: Client) -> None:
    page = client.get("/console/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="app.js">' in page.text
    for name in ("app.js", "tasks.js", "dashboard-client.js", "console.css"):
        asset = client.get(f"/console/{name}")
        assert asset.status_code == 200, name
        assert "no-cache" in asset.headers["cache-control"]
    assert client.get("/api/tasks").status_code == 401  # the data still needs the token


def test_the_first_load_stays_under_300_kb() -> None:
    total = sum(path.stat().st_size for path in STATIC_DIRECTORY.iterdir() if path.is_file())
    assert total <= 300 * 1024, f"the console's files weigh {total} bytes"


def test_no_file_of_the_console_loads_anything_from_the_internet() -> None:
    for path in STATIC_DIRECTORY.iterdir():
        text = path.read_text()
        assert "http://" not in text.replace("http://www.w3.org/2000/svg", ""), path.name
        assert "https://" not in text, path.name
