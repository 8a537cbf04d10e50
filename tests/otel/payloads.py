"""Golden OTLP/JSON payloads as emitters send them: hex ids, int64 as decimal strings,
integer enums, the GenAI names of the conventions and the older names of other emitters."""

from __future__ import annotations

from typing import Any

TRACE = "5b8efff798038103d269b633813fc60c"
AGENT_SPAN = "eee19b7ec3c1b174"
CHAT_SPAN = "eee19b7ec3c1b173"
TOOL_SPAN = "eee19b7ec3c1b175"
T0 = 1_764_000_000_000_000_000  # ns since the epoch: 2025-11-24T16:00:00Z


def value(raw: Any) -> dict[str, Any]:
    if isinstance(raw, bool):
        return {"boolValue": raw}
    if isinstance(raw, int):
        return {"intValue": str(raw)}  # int64 as a decimal string, as OTLP JSON writes it
    if isinstance(raw, float):
        return {"doubleValue": raw}
    return {"stringValue": raw}


def span(
    span_id: str,
    name: str,
    attributes: dict[str, Any],
    *,
    parent: str | None = None,
    start_s: float = 0,
    end_s: float = 1,
    error: bool = False,
    trace: str = TRACE,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "traceId": trace,
        "spanId": span_id,
        "name": name,
        "kind": 3,
        "startTimeUnixNano": str(T0 + int(start_s * 1e9)),
        "endTimeUnixNano": str(T0 + int(end_s * 1e9)),
        "attributes": [{"key": k, "value": value(v)} for k, v in attributes.items()],
        "status": {"code": 2, "message": "boom"} if error else {"code": 1},
        "someFutureField": {"ignored": True},
    }
    if parent:
        body["parentSpanId"] = parent
    return body


def request(*spans: dict[str, Any], service: str = "support-bot") -> dict[str, Any]:
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": value(service)}]},
                "scopeSpans": [{"scope": {"name": "openllmetry"}, "spans": list(spans)}],
            }
        ]
    }


def semconv_chat(**extra: Any) -> dict[str, Any]:
    """An inference span by the current conventions; its 1000 input tokens include 600 read
    from the cache and 100 written to it."""
    return span(
        CHAT_SPAN,
        "chat claude-sonnet-4",
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "anthropic",
            "gen_ai.request.model": "claude-sonnet-4",
            "gen_ai.usage.input_tokens": 1000,
            "gen_ai.usage.output_tokens": 50,
            "gen_ai.usage.cache_read.input_tokens": 600,
            "gen_ai.usage.cache_creation.input_tokens": 100,
            "gen_ai.usage.reasoning.output_tokens": 20,
            **extra,
        },
        parent=AGENT_SPAN,
        start_s=0.2,
        end_s=0.8,
    )


def agent_span(**extra: Any) -> dict[str, Any]:
    return span(
        AGENT_SPAN,
        "invoke_agent support",
        {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "support", **extra},
        start_s=0,
        end_s=2,
    )
