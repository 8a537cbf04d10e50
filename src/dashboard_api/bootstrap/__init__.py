"""The one composition root: the server (http/app.py), the CLI and an embedder build the
service here. `build_adapters` (or `memory_adapters`) opens pools and starts nothing;
`build_services` wires every use case; `running` starts and stops every background loop."""

from dashboard_api.bootstrap.adapters import Adapters, build_adapters, memory_adapters
from dashboard_api.bootstrap.services import Services, build_services
from dashboard_api.bootstrap.workers import Workers, running

__all__ = [
    "Adapters",
    "Services",
    "Workers",
    "build_adapters",
    "build_services",
    "memory_adapters",
    "running",
]
