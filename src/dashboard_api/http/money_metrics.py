"""Cost and task outcomes per agent type on /metrics, so Alertmanager rules can use them too.

The figures are all-time sums from the rollups as of the alert service's last round (every
`alerts_check_seconds`): every replica exports the same global figure, so rules aggregate with
`max by (agent_type)`, not `sum`. They only grow (retention keeps the rollups), as counters must.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator

from prometheus_client import REGISTRY
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from dashboard_api.domain.model.retention import DataKind
from dashboard_api.domain.model.rollups import Figures
from dashboard_api.domain.services.alerts import AlertService
from dashboard_api.domain.services.retention import RetentionJob


class MoneyCollector(Collector):
    def __init__(self) -> None:
        self.services: weakref.WeakSet[AlertService] = weakref.WeakSet()
        self.retention_jobs: weakref.WeakSet[RetentionJob] = weakref.WeakSet()

    def collect(self) -> Iterator[Metric]:
        totals: dict[str, Figures] = {}
        fired = 0
        for service in self.services:
            totals.update(service.agent_totals)
            fired += service.fired
        cost = CounterMetricFamily(
            "dashboard_agent_cost_usd", "Spend of tasks per agent type (USD)", labels=["agent_type"]
        )
        outcomes = CounterMetricFamily(
            "dashboard_agent_tasks",
            "Tasks per agent type and outcome (created counts every task)",
            labels=["agent_type", "outcome"],
        )
        for agent_type, figures in sorted(totals.items()):
            cost.add_metric([agent_type], figures.cost_micros / 1_000_000)
            cancelled = figures.finished - figures.completed - figures.failed
            for outcome, value in (
                ("created", figures.tasks),
                ("completed", figures.completed),
                ("failed", figures.failed),
                ("cancelled", cancelled),
            ):
                outcomes.add_metric([agent_type, outcome], value)
        yield cost
        yield outcomes
        pruned = CounterMetricFamily(
            "dashboard_retention_pruned", "Rows trimmed or deleted by retention", labels=["kind"]
        )
        for kind in DataKind:
            pruned.add_metric([kind.value], sum(job.pruned[kind] for job in self.retention_jobs))
        yield pruned
        yield CounterMetricFamily(
            "dashboard_alerts_fired", "Alerts this process fired (stored first)", value=fired
        )


MONEY_METRICS = MoneyCollector()
REGISTRY.register(MONEY_METRICS)
