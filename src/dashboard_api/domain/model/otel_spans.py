"""Spans of agents instrumented with OpenTelemetry, read by the GenAI semantic conventions.

The conventions are still in "development": emitters name the same counts differently, so
each figure is read through an alias table, first name found wins. `gen_ai.usage.input_tokens`
includes cached tokens (the convention); the uncached input is what remains after the cache
reads and writes, so a cached token is never counted twice (input price and cache price).
"""

from __future__ import annotations

import math
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import msgspec

from dashboard_api.domain.limits import storable_text

AttributeValue = str | bool | int | float | list[Any] | dict[str, Any] | None

INPUT_TOKENS = (
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.prompt_tokens",
    "llm.token_count.prompt",
    "llm.usage.prompt_tokens",
)
OUTPUT_TOKENS = (
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.completion_tokens",
    "llm.token_count.completion",
    "llm.usage.completion_tokens",
)
CACHE_READ_TOKENS = (
    "gen_ai.usage.cache_read.input_tokens",
    "gen_ai.usage.cache_read_input_tokens",
    "llm.token_count.prompt_details.cache_read",
)
CACHE_WRITE_TOKENS = (
    "gen_ai.usage.cache_creation.input_tokens",
    "gen_ai.usage.cache_creation_input_tokens",
    "llm.token_count.prompt_details.cache_write",
)
MODEL = ("gen_ai.response.model", "gen_ai.request.model", "llm.model_name")
PROVIDER = ("gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system")
REPORTED_COST = ("gen_ai.usage.cost.amount", "gen_ai.usage.cost", "llm.usage.total_cost")
OPERATION = ("gen_ai.operation.name",)
TASK_ID = "dashboard.task_id"
INFERENCE_OPERATIONS = frozenset(
    {"chat", "text_completion", "generate_content", "embeddings", "completion"}
)
STATUS_ERROR = 2  # OTLP Status.StatusCode.STATUS_CODE_ERROR


class Span(msgspec.Struct, kw_only=True, frozen=True):
    """One span, decoded from OTLP JSON or protobuf; ids in lowercase hex."""

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    start: datetime
    end: datetime | None
    attributes: dict[str, AttributeValue]
    resource: dict[str, AttributeValue]
    status_code: int = 0
    status_message: str = ""

    def first(self, names: tuple[str, ...]) -> AttributeValue:
        for name in names:
            value = self.attributes.get(name)
            if value is not None and value != "":
                return value
        return None

    @property
    def operation(self) -> str | None:
        value = self.first(OPERATION)
        return value if isinstance(value, str) else None

    @property
    def failed(self) -> bool:
        return self.status_code == STATUS_ERROR


class Usage(msgspec.Struct, kw_only=True, frozen=True):
    """What one inference span used; `input_tokens` excludes cached tokens."""

    model: str | None
    provider: str | None
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    reported_cost: Decimal | None

    @property
    def is_empty(self) -> bool:
        counts = (self.input_tokens, self.output_tokens)
        caches = (self.cache_read_tokens, self.cache_write_tokens)
        return not any(counts + caches) and self.reported_cost is None


def usage_of(span: Span) -> Usage | None:
    """The usage an inference span reports, or None for any other span."""
    operation = span.operation
    has_tokens = span.first(INPUT_TOKENS) is not None or span.first(OUTPUT_TOKENS) is not None
    if operation not in INFERENCE_OPERATIONS and not (operation is None and has_tokens):
        return None
    given_input = _count(span.first(INPUT_TOKENS))
    cache_read = _count(span.first(CACHE_READ_TOKENS))
    cache_write = _count(span.first(CACHE_WRITE_TOKENS))
    cached = cache_read + cache_write
    # The convention counts cached tokens inside the input; an emitter that reports less
    # input than cache follows the provider's own (uncached) count instead.
    uncached = given_input - cached if given_input >= cached else given_input
    usage = Usage(
        model=_text(span.first(MODEL)),
        provider=_text(span.first(PROVIDER)),
        input_tokens=uncached,
        output_tokens=_count(span.first(OUTPUT_TOKENS)),
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
        reported_cost=_cost(span.first(REPORTED_COST)),
    )
    return None if usage.is_empty and usage.model is None else usage


def _count(value: AttributeValue) -> int:
    if isinstance(value, bool):
        return 0
    if isinstance(value, float) and not math.isfinite(value):
        return 0  # an infinity or NaN (protobuf doubles carry them) counts nothing, as text does
    if isinstance(value, int | float):
        return max(int(value), 0)
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return 0


def _cost(value: AttributeValue) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        cost = Decimal(str(value))
    except InvalidOperation:
        return None
    return cost if cost.is_finite() and 0 <= cost <= 1_000_000 else None


def _text(value: AttributeValue) -> str | None:
    return storable_text(value[:128]) if isinstance(value, str) and value else None
