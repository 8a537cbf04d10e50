"""`POST /v1/traces` with golden OTLP payloads, on the memory adapters: usage by the alias
table without counting cached tokens twice, lifecycle, order, repeats, the wire's rules."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
from google.protobuf.json_format import ParseDict
from litestar.testing import TestClient
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from dashboard_api.bootstrap.adapters import memory_adapters
from dashboard_api.http import create_app
from dashboard_api.settings import Settings
from tests.otel.payloads import (
    AGENT_SPAN,
    CHAT_SPAN,
    TOOL_SPAN,
    TRACE,
    agent_span,
    request,
    semconv_chat,
    span,
)

Client = TestClient  # type: ignore[type-arg]
TASK = f"otel-{TRACE}"


@pytest.fixture
def client() -> Iterator[Client]:
    with TestClient(
        create_app(Settings(), adapters=memory_adapters()), base_url="http://127.0.0.1"
    ) as test_client:
        yield test_client


def export(client: Client, payload: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/v1/traces", json=payload)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    return response.json()  # type: ignore[no-any-return]


def test_cached_tokens_count_once_and_the_task_lives_its_life(client: Client) -> None:
    assert export(client, request(semconv_chat(), agent_span())) == {}
    task = client.get(f"/api/tasks/{TASK}").json()
    assert task["status"] == "completed"
    assert task["agent_type"] == "support"
    assert task["model"] == "claude-sonnet-4"
    assert (task["input_tokens"], task["cache_read_tokens"], task["cache_write_tokens"]) == (
        300,
        600,
        100,
    )
    assert task["output_tokens"] == 50
    # 300 x $3 + 50 x $15 + 600 x $0.30 + 100 x $3.75, per million tokens
    assert task["cost_usd"] == 0.002205
    assert task["duration_seconds"] == 2.0
    assert task["created_at"] == "2025-11-24T16:00:00Z"


@pytest.mark.parametrize(
    "names",
    [
        {
            "gen_ai.system": "openai",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.usage.prompt_tokens": 1000,
            "gen_ai.usage.completion_tokens": 50,
            "gen_ai.usage.cache_read_input_tokens": 600,
        },
        {
            "llm.model_name": "gpt-4o",
            "llm.token_count.prompt": 1000,
            "llm.token_count.completion": 50,
            "llm.token_count.prompt_details.cache_read": 600,
        },
    ],
    ids=["openllmetry-older", "openinference"],
)
def test_older_names_read_through_the_alias_table(client: Client, names: dict[str, Any]) -> None:
    chat = span(CHAT_SPAN, "chat", {"gen_ai.operation.name": "chat", **names}, parent=AGENT_SPAN)
    export(client, request(chat, agent_span()))
    task = client.get(f"/api/tasks/{TASK}").json()
    assert (task["input_tokens"], task["cache_read_tokens"], task["output_tokens"]) == (
        400,
        600,
        50,
    )
    # 400 x $2.50 + 600 x $1.25 + 50 x $10, per million
    assert task["cost_usd"] == 0.00225


def test_a_reported_cost_is_kept_for_a_model_without_a_price(client: Client) -> None:
    chat = semconv_chat(**{"gen_ai.request.model": "house-model", "gen_ai.usage.cost.amount": 0.5})
    export(client, request(chat, agent_span()))
    task = client.get(f"/api/tasks/{TASK}").json()
    assert (task["cost_usd"], task["reported_cost_usd"], task["cost_source"]) == (
        0.5,
        0.5,
        "reported",
    )
    assert (task["cost_breakdown"], task["price_version"]) == (None, None)


def test_a_reported_cost_is_kept_beside_the_computed_one_which_analytics_sum(
    client: Client,
) -> None:
    second = span(
        "00000000000000c2",
        "chat claude-sonnet-4",
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "claude-sonnet-4",
            "gen_ai.usage.input_tokens": 1000,
            "gen_ai.usage.output_tokens": 100,
            "llm.usage.total_cost": "0.25",  # an alias of gen_ai.usage.cost.amount
        },
        parent=AGENT_SPAN,
    )
    chat = semconv_chat(**{"gen_ai.usage.cost.amount": 0.125})
    export(client, request(chat, agent_span()))
    export(client, request(chat, second))  # the first span again: counted once
    task = client.get(f"/api/tasks/{TASK}").json()
    # 0.002205 as above, plus 1000 x $3 + 100 x $15 per million
    assert (task["cost_usd"], task["cost_source"]) == (0.006705, "computed")
    assert task["reported_cost_usd"] == 0.375
    breakdown = task["cost_breakdown"]
    parts = ("input", "output", "reasoning", "cache_read", "cache_write_5m", "cache_write_1h")
    assert round(sum(breakdown[part] for part in parts), 6) == 0.006705
    assert (breakdown["pattern"], breakdown["input"]) == ("claude-sonnet-4", 0.0039)
    assert task["price_version"] is not None
    summary = client.get("/api/analytics/summary").json()
    assert summary["total_cost_usd"] == 0.006705


def test_a_span_without_a_price_makes_the_total_reported(client: Client) -> None:
    house = span(
        "00000000000000c3",
        "chat house",
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "house-model",
            "gen_ai.usage.input_tokens": 10,
            "gen_ai.usage.cost.amount": 0.5,
        },
        parent=AGENT_SPAN,
    )
    export(client, request(semconv_chat(), house, agent_span()))
    task = client.get(f"/api/tasks/{TASK}").json()
    assert (task["cost_usd"], task["reported_cost_usd"]) == (0.502205, 0.5)
    assert (task["cost_source"], task["cost_breakdown"]) == ("reported", None)


def test_children_before_parents_across_batches_and_repeats_count_once(client: Client) -> None:
    export(client, request(semconv_chat()))
    running = client.get(f"/api/tasks/{TASK}").json()
    assert running["status"] == "running"
    export(client, request(semconv_chat()))  # the exporter retried the same batch
    export(client, request(agent_span()))
    export(client, request(semconv_chat(), agent_span()))
    task = client.get(f"/api/tasks/{TASK}").json()
    assert task["status"] == "completed"
    assert (task["input_tokens"], task["output_tokens"]) == (300, 50)


def test_a_failed_agent_span_fails_its_task(client: Client) -> None:
    export(
        client,
        request(
            semconv_chat(),
            span(
                AGENT_SPAN,
                "invoke_agent",
                {"gen_ai.operation.name": "invoke_agent", "error.type": "timeout"},
                end_s=3,
                error=True,
            ),
        ),
    )
    task = client.get(f"/api/tasks/{TASK}").json()
    assert (task["status"], task["error"]) == ("failed", "boom")


def test_a_dashboard_task_id_names_the_task_and_a_conversation_is_linked(client: Client) -> None:
    chat = semconv_chat(**{"dashboard.task_id": "job-42", "gen_ai.conversation.id": "conv-7"})
    export(client, request(chat))
    task = client.get("/api/tasks/job-42").json()
    assert task["conversation_id"] == "conv-7"
    assert task["status"] == "running"  # until its agent span or root span ends
    conversation = client.get("/api/conversations/conv-7").json()
    assert conversation["totals"]["tasks"] == 1


def test_tool_spans_become_output_events_on_the_task_channel(client: Client) -> None:
    tool = span(
        TOOL_SPAN,
        "execute_tool search",
        {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": "search",
            "gen_ai.tool.call.id": "call_1",
            "gen_ai.tool.call.result": "3 results",
        },
        parent=AGENT_SPAN,
        start_s=0.9,
        end_s=1.0,
    )
    export(client, request(tool, agent_span()))
    export(client, request(tool))  # a repeat publishes nothing more
    with client.websocket_connect("/ws") as socket:
        socket.send_json({"type": "subscribe", "channel": f"task:{TASK}", "since": "0-0"})
        frames = [socket.receive_json() for _ in range(3)]
    outputs = [f for f in frames if f.get("type") == "task_output"]
    assert [(f["kind"], f["tool_name"], f["output"]) for f in outputs] == [
        ("tool_call", "search", "3 results")
    ]


def test_protobuf_and_gzip_are_read_and_answered_in_kind(client: Client) -> None:
    message = ParseDict(
        _proto_json(request(semconv_chat(), agent_span())), ExportTraceServiceRequest()
    )
    body = gzip.compress(message.SerializeToString())
    response = client.post(
        "/v1/traces",
        content=body,
        headers={"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-protobuf"
    answer = ExportTraceServiceResponse.FromString(response.content)
    assert not answer.HasField("partial_success")
    assert client.get(f"/api/tasks/{TASK}").json()["input_tokens"] == 300


def test_spans_that_cannot_be_read_are_a_partial_success(client: Client) -> None:
    bad = span("zz", "chat", {"gen_ai.operation.name": "chat"})
    answer = export(client, request(bad, semconv_chat(), agent_span()))
    assert answer["partialSuccess"]["rejectedSpans"] == 1
    assert "span id" in answer["partialSuccess"]["errorMessage"]
    assert client.get(f"/api/tasks/{TASK}").json()["status"] == "completed"


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (b"{not json", {"Content-Type": "application/json"}),
        (b"\xff\xfe garbage", {"Content-Type": "application/x-protobuf"}),
        (b'{"resourceSpans": 3}', {"Content-Type": "application/json"}),
        (b"not gzip", {"Content-Type": "application/json", "Content-Encoding": "gzip"}),
    ],
)
def test_malformed_requests_are_400s(client: Client, body: bytes, headers: dict[str, str]) -> None:
    assert client.post("/v1/traces", content=body, headers=headers).status_code == 400


def test_a_body_neither_json_nor_protobuf_is_a_415(client: Client) -> None:
    # The service-wide rule (docs/security.md): a body a page could send cross-site unasked.
    refused = client.post("/v1/traces", content=b"{}", headers={"Content-Type": "text/plain"})
    assert refused.status_code == 415


def _proto_json(payload: dict[str, Any]) -> dict[str, Any]:
    """OTLP JSON to protobuf's own JSON mapping (ids base64, no unknown fields)."""
    import base64

    def convert(node: Any) -> Any:
        if isinstance(node, dict):
            out = {}
            for key, item in node.items():
                if key == "someFutureField":
                    continue
                if key in ("traceId", "spanId", "parentSpanId"):
                    out[key] = base64.b64encode(bytes.fromhex(item)).decode()
                else:
                    out[key] = convert(item)
            return out
        if isinstance(node, list):
            return [convert(item) for item in node]
        return node

    return convert(msgspec.json.decode(msgspec.json.encode(payload)))  # type: ignore[no-any-return]


def test_over_the_export_limit_an_exporter_is_told_to_retry_later(client: Client) -> None:
    receiver = client.app.state["otlp"]
    receiver.in_flight = receiver.limit  # every export slot busy
    response = client.post("/v1/traces", json=request(semconv_chat()))
    assert response.status_code == 429
    assert response.headers["retry-after"] == "1"
    receiver.in_flight = 0
    assert client.post("/v1/traces", json=request(semconv_chat())).status_code == 200


def test_trace_export_takes_the_ingest_scope() -> None:
    engine, viewer = "engine-secret-0123456789", "viewer-secret-0123456789"
    settings = Settings(api_tokens=f"viewer:read:{viewer},engine:ingest:{engine}")
    with TestClient(
        create_app(settings, adapters=memory_adapters()), base_url="http://127.0.0.1"
    ) as client:
        payload = request(semconv_chat())
        assert client.post("/v1/traces", json=payload).status_code == 401
        denied = client.post("/v1/traces", json=payload, headers=_bearer(viewer))
        assert denied.status_code == 403
        assert client.post("/v1/traces", json=payload, headers=_bearer(engine)).status_code == 200


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def test_the_document_describes_the_export_body_and_answers(client: Client) -> None:
    from jsonschema_rs import Draft202012Validator  # schemathesis's validator

    document = client.get("/schema/openapi.json").json()
    operation = document["paths"]["/v1/traces"]["post"]
    body = operation["requestBody"]
    assert body["required"] is True
    assert body["content"]["application/x-protobuf"]["schema"] == {
        "type": "string",
        "format": "binary",
    }
    schema = body["content"]["application/json"]["schema"]
    assert schema["title"] == "ExportTraceServiceRequest"
    assert list(schema["properties"]) == ["resourceSpans"]
    request_schema = Draft202012Validator(schema)
    nested = request(semconv_chat())
    nested["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"] += [
        {"key": "l", "value": {"arrayValue": {"values": [{"intValue": 1}, {"stringValue": "a"}]}}},
        {"key": "m", "value": {"kvlistValue": {"values": [{"key": "k", "value": {}}]}}},
    ]
    # The golden payloads (every alias, tool spans, errors) are what the document allows.
    for payload in (
        request(semconv_chat(), agent_span()),
        request(span(TOOL_SPAN, "tool", {"gen_ai.operation.name": "execute_tool"}, error=True)),
        request(span(CHAT_SPAN, "chat", {"n": 1, "f": 0.5, "b": True})),
        nested,
    ):
        assert request_schema.is_valid(payload), list(request_schema.iter_errors(payload))[:3]
    assert not request_schema.is_valid({"resourceSpans": 3})  # a 400, as declared
    answers = operation["responses"]
    assert set(answers) == {"200", "400", "401", "403", "413", "415", "429", "503"}
    assert set(answers["200"]["content"]) == {"application/json", "application/x-protobuf"}
    for status in ("429", "503"):
        assert answers[status]["headers"]["Retry-After"]["required"] is True
    # What the receiver answers is what the document declares.
    answer_schema = Draft202012Validator(answers["200"]["content"]["application/json"]["schema"])
    bad_id = span("zz", "chat", {"gen_ai.operation.name": "chat"})
    for payload in (request(semconv_chat()), request(bad_id)):
        answered = export(client, payload)
        assert answer_schema.is_valid(answered), answered
    assert export(client, request(bad_id))["partialSuccess"]["rejectedSpans"] == 1
    far = semconv_chat()
    far["startTimeUnixNano"] = 1e300  # a number no datetime holds: rejected, not a 500
    assert export(client, request(far))["partialSuccess"]["rejectedSpans"] == 1


@pytest.mark.parametrize(
    ("tokens", "counted", "refused"),
    [("Infinity", 0, 0), ("-Infinity", 0, 0), ("NaN", 0, 0), (1e300, 0, 1), (1e12 + 1, 0, 1)],
)
def test_extreme_token_counts_never_fail_the_export(
    client: Client, tokens: Any, counted: int, refused: int
) -> None:
    """Protobuf doubles carry infinities and NaN; a count past 1e12 would carry the task past
    what the API accepts: an unreadable count counts nothing, an excessive one refuses its span
    alone. Neither may fail the export (they answered 500)."""
    chat = span(
        CHAT_SPAN,
        "chat claude-sonnet-4",
        {"gen_ai.operation.name": "chat", "gen_ai.request.model": "claude-sonnet-4"},
        parent=AGENT_SPAN,
    )
    chat["attributes"].append(
        {"key": "gen_ai.usage.input_tokens", "value": {"doubleValue": tokens}}
    )
    message = ParseDict(_proto_json(request(chat)), ExportTraceServiceRequest())
    response = client.post(
        "/v1/traces",
        content=message.SerializeToString(),
        headers={"Content-Type": "application/x-protobuf"},
    )
    assert response.status_code == 200, response.text
    answer = ExportTraceServiceResponse.FromString(response.content)
    assert answer.partial_success.rejected_spans == refused
    assert client.get(f"/api/tasks/{TASK}").json()["input_tokens"] == counted
