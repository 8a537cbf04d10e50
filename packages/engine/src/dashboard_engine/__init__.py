"""Report an AI agent engine's work to the Dashboard API (see README.md)."""

from dashboard_engine.engine import Engine, Job
from dashboard_engine.protocol import ENGINE_COMMANDS_CHANNEL, LIFECYCLE_TYPES, task_channel
from dashboard_engine.settings import EngineSettings

__all__ = [
    "ENGINE_COMMANDS_CHANNEL",
    "LIFECYCLE_TYPES",
    "Engine",
    "EngineSettings",
    "Job",
    "task_channel",
]
