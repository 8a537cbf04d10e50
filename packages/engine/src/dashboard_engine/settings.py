"""An engine's settings, read from the same `DASHBOARD_*` variables the service reads."""

from __future__ import annotations

import os
from collections.abc import Mapping

import msgspec

PREFIX = "DASHBOARD_"


class EngineSettings(msgspec.Struct, kw_only=True, frozen=True):
    redis_url: str = "redis://127.0.0.1:6379/0"
    history_length: int = 1000
    history_ttl_seconds: float = 86_400
    ingest_stream: str = "dashboard:ingest"
    engine_queue: str = "dashboard:engine:tasks"
    # The consumer group engine workers share on the hand-off queue (engines only).
    engine_group: str = "dashboard-engine"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> EngineSettings:
        """Settings from the environment; a malformed value raises ValueError naming it."""
        environ = os.environ if environ is None else environ
        raw = {
            name: value
            for name in cls.__struct_fields__
            if (value := environ.get(PREFIX + name.upper()))
        }
        try:
            return msgspec.convert(raw, cls, strict=False)
        except msgspec.ValidationError as exc:
            raise ValueError(f"invalid setting: {exc} (environment variables {PREFIX}*)") from exc
