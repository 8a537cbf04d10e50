"""OpenAPI at /schema with a Swagger UI whose assets are served locally: it works offline.

The document is the contract that clients are generated from (openapi.json at the repository
root is a copy, checked by tests/http/test_openapi.py; `make openapi` refreshes it).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.router import Router
from litestar.static_files import create_static_files_router

from dashboard_api import __version__

ASSETS_PATH = "/schema-assets"
BEARER = "bearerAuth"
# Routes anyone may call, token or not (probes): an empty requirement overrides the default.
ANONYMOUS: list[dict[str, list[str]]] = [{}]


def openapi_config() -> OpenAPIConfig:
    swagger = SwaggerRenderPlugin(
        path="/swagger",
        js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
        css_url=f"{ASSETS_PATH}/swagger-ui.css",
        standalone_preset_js_url=f"{ASSETS_PATH}/swagger-ui-standalone-preset.js",
        favicon=f'<link rel="icon" type="image/png" href="{ASSETS_PATH}/favicon-32x32.png">',
    )
    return OpenAPIConfig(
        title="Dashboard API",
        version=__version__,
        description=(
            "Tasks that AI agents run, their live output, costs and conversations.\n\n"
            "Authenticate with `Authorization: Bearer <token>` (scopes: read for GET, write for "
            "changes, ingest for what an engine reports). A service started without tokens "
            "listens on loopback only and ignores the header. Every error is an RFC 9457 "
            "problem (`application/problem+json`); money is a JSON number in US dollars."
        ),
        path="/schema",
        render_plugins=[swagger],
        security=[{BEARER: []}],
        components=Components(
            security_schemes={
                BEARER: SecurityScheme(
                    type="http",
                    scheme="bearer",
                    description="An API token from DASHBOARD_API_TOKENS",
                )
            }
        ),
    )


def docs_assets_router() -> Router:
    directory = Path(str(files("swagger_ui") / "static"))
    return create_static_files_router(
        path=ASSETS_PATH, directories=[directory], include_in_schema=False, name="docs-assets"
    )
