"""Dashboard API: REST and WebSocket backend for a dashboard of AI agent tasks."""

__version__ = "0.1.0"
