"""OpenAPI at /schema with a Swagger UI whose assets are served locally: it works offline."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.router import Router
from litestar.static_files import create_static_files_router

from dashboard_api import __version__

ASSETS_PATH = "/schema-assets"


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
        description="Tasks that AI agents run, their live output, costs and conversations.",
        path="/schema",
        render_plugins=[swagger],
    )


def docs_assets_router() -> Router:
    directory = Path(str(files("swagger_ui") / "static"))
    return create_static_files_router(
        path=ASSETS_PATH, directories=[directory], include_in_schema=False, name="docs-assets"
    )
