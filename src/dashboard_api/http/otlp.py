"""The OTLP receiver in a running app: the span ingestion and the gate that bounds it."""

from __future__ import annotations

from dataclasses import dataclass, field

from litestar.datastructures import State
from litestar.di import Provide

from dashboard_api.domain.services.otel import OtelIngest

_STATE_KEY = "otlp"
# Exports applied at once per process; more are told to come back (OTLP exporters retry a
# 429 after its Retry-After) rather than queue behind each other and time out.
MAX_CONCURRENT_EXPORTS = 4


@dataclass
class OtlpReceiver:
    ingest: OtelIngest
    limit: int = MAX_CONCURRENT_EXPORTS
    in_flight: int = field(default=0)

    def try_enter(self) -> bool:
        if self.in_flight >= self.limit:
            return False
        self.in_flight += 1
        return True

    def leave(self) -> None:
        self.in_flight -= 1

    def install(self, state: State) -> None:
        state[_STATE_KEY] = self


def _receiver(state: State) -> OtlpReceiver:
    receiver = state.get(_STATE_KEY)
    if not isinstance(receiver, OtlpReceiver):
        raise RuntimeError("the app has not started: its lifespan builds the OTLP receiver")
    return receiver


OTLP_DEPENDENCIES = {"otlp_receiver": Provide(_receiver, sync_to_thread=False)}
