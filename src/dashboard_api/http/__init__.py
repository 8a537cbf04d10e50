"""The Litestar application: controllers, problem details, docs and the app factory."""

from dashboard_api.http.app import create_app

__all__ = ["create_app"]
