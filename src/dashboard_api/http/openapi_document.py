"""The OpenAPI document as the service serves it, for `dashboard-api openapi` (`make openapi`)."""

from __future__ import annotations

import json
from typing import Any

from litestar.testing import TestClient

from dashboard_api.bootstrap.adapters import memory_adapters
from dashboard_api.http.app import create_app
from dashboard_api.settings import Settings


def served_document() -> dict[str, Any]:
    """Ask an app on default settings and memory adapters for /schema/openapi.json: the very
    answer a client gets, not a re-rendering of the schema objects."""
    app = create_app(Settings(), adapters=memory_adapters())
    with TestClient(app, base_url="http://127.0.0.1") as client:
        response = client.get("/schema/openapi.json")
        response.raise_for_status()
        document: dict[str, Any] = response.json()
    return document


def render(document: dict[str, Any]) -> str:
    """Stable text for the committed copy: indented, in the served key order."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
