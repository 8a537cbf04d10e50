"""`OPTIONS` answers list every method of a path (`Allow`), as 405 answers already do.

Litestar 2.x builds a path's automatic OPTIONS handler with the route that exists when the
path's first handler registers, and rebuilds the route (not the handler) as more register: the
handler keeps answering with the first route's methods (`OPTIONS /api/tasks` said `OPTIONS,
POST`). Fixed in Litestar 3 (litestar#4169); until then each such handler is pointed at the
final route once the app is built.
"""

from __future__ import annotations

from litestar import Litestar
from litestar.routes import HTTPRoute


def point_options_at_final_routes(app: Litestar) -> None:
    """Make each automatic OPTIONS handler read the methods of the route that serves it."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            answer = handler.fn
            if getattr(answer, "__name__", "") != "options_handler":
                continue
            for cell in answer.__closure__ or ():
                if isinstance(cell.cell_contents, HTTPRoute):
                    cell.cell_contents = route
