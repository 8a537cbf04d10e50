"""In-memory adapters: the embedded default for the bus, and real stores for embedders and tests."""

from dashboard_api.adapters.memory.bus import MemoryEventBus
from dashboard_api.adapters.memory.ingest import MemoryIngestQueue
from dashboard_api.adapters.memory.rollups import MemoryRollupStore
from dashboard_api.adapters.memory.tables import MemoryDatabase
from dashboard_api.adapters.memory.tasks import MemoryTaskStore
from dashboard_api.adapters.memory.unit_of_work import MemoryUnitOfWork

__all__ = [
    "MemoryDatabase",
    "MemoryEventBus",
    "MemoryIngestQueue",
    "MemoryRollupStore",
    "MemoryTaskStore",
    "MemoryUnitOfWork",
]
