"""The request metrics counted in batches (`flush_request_metrics`): the same counts, bucket
counts and sum as one `inc` and one `observe` per request."""

from __future__ import annotations

import random

import pytest
from prometheus_client import CollectorRegistry, Histogram

from dashboard_api.http import observability
from dashboard_api.http.observability import LATENCY, REQUESTS, _observe_all

_BUCKETS = LATENCY._upper_bounds[:-1]  # without +Inf, which prometheus_client adds


def _histogram(registry: CollectorRegistry) -> Histogram:
    return Histogram("h", "h", ["route"], buckets=_BUCKETS, registry=registry)


def _samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for metric in registry.collect()
        for sample in metric.samples
        if not sample.name.endswith("_created")
    }


def test_a_batch_fills_the_buckets_and_sum_as_one_observe_per_amount_does() -> None:
    chance = random.Random(3)
    bounds = [*_BUCKETS, float("inf")]
    # Every bound itself (it counts in its own bucket), beside it, and random durations.
    amounts = [*bounds[:-1], *(b * (1 + 1e-12) for b in bounds[:-1]), 0.0, 1e9]
    amounts += [chance.expovariate(200) for _ in range(3000)]
    single, batched = CollectorRegistry(), CollectorRegistry()
    one, many = _histogram(single).labels("r"), _histogram(batched).labels("r")
    for amount in amounts:
        one.observe(amount)
    _observe_all(many, amounts[:100])
    _observe_all(many, amounts[100:])
    expected, got = _samples(single), _samples(batched)
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        if key[0] == "h_sum":
            assert got[key] == pytest.approx(value, rel=1e-12)
        else:
            assert got[key] == value, key


def test_a_flush_counts_each_request_of_each_series(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(observability, "_PENDING", [])
    route = "/test/flush/{id}"
    before = [REQUESTS.labels("GET", route, status)._value.get() for status in ("200", "404")]
    timed = LATENCY.labels("GET", route)
    count_before = sum(bucket.get() for bucket in timed._buckets)
    for number in range(300):  # past a batch: flushed once on the way
        observability.observed_http(
            {"method": "GET", "path_template": route, "type": "http"},
            404 if number % 3 == 0 else 200,
            0.001 * number,
        )
    observability.flush_request_metrics()
    after = [REQUESTS.labels("GET", route, status)._value.get() for status in ("200", "404")]
    assert [a - b for a, b in zip(after, before, strict=True)] == [200, 100]
    assert sum(bucket.get() for bucket in timed._buckets) - count_before == 300
