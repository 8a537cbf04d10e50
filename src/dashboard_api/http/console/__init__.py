"""The browser console at /console (and / redirecting to it): static files shipped in the
package, built on the public REST and WebSocket API only. No Node is needed to serve them: the
files are plain ES modules, written by hand (see docs/console.md)."""

from __future__ import annotations

from pathlib import Path

from litestar import Router, get
from litestar.datastructures import CacheControlHeader
from litestar.response import Redirect
from litestar.static_files import create_static_files_router

from dashboard_api.http.auth import PUBLIC

CONSOLE_PATH = "/console"
STATIC_DIRECTORY = Path(__file__).parent / "static"


@get("/", opt=PUBLIC, include_in_schema=False, name="console-redirect")
async def console_redirect() -> Redirect:
    """`/` opens the console."""
    return Redirect(f"{CONSOLE_PATH}/")


def console_router() -> Router:
    """The console's files. Public: the page holds no data, it asks for a token when the API
    answers 401. `no-cache` revalidates each load, so a new release is never half-applied."""
    files = create_static_files_router(
        path=CONSOLE_PATH,
        directories=[STATIC_DIRECTORY],
        html_mode=True,
        name="console",
        opt=PUBLIC,
        include_in_schema=False,
        cache_control=CacheControlHeader(no_cache=True),
    )
    return Router(path="/", route_handlers=[console_redirect, files])
