"""An agent instrumented with the official OpenTelemetry SDK and its OTLP/HTTP exporter
(protobuf, gzip) reports to the real server process; the REST API shows the task it ran."""

from __future__ import annotations

import asyncio
import time
import uuid
from decimal import Decimal
from typing import Any

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Status, StatusCode

from tests.e2e.conftest import Server
from tests.otel.payloads import request, span

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


def run_agent(server: Server, task_id: str, *, fail: bool = False) -> None:
    provider = TracerProvider(resource=Resource.create({"service.name": "support-bot"}))
    exporter = OTLPSpanExporter(
        endpoint=f"{server.url}/v1/traces", compression=Compression.Gzip, timeout=10
    )
    provider.add_span_processor(BatchSpanProcessor(exporter, max_export_batch_size=512))
    tracer = provider.get_tracer("support-agent")
    try:
        with tracer.start_as_current_span(
            "invoke_agent support",
            attributes={
                "gen_ai.operation.name": "invoke_agent",
                "gen_ai.agent.name": "support",
                "dashboard.task_id": task_id,
                "gen_ai.conversation.id": f"conv-{task_id}",
            },
        ) as agent:
            for turn in range(2):
                with tracer.start_as_current_span(
                    "chat claude-sonnet-4",
                    attributes={
                        "dashboard.task_id": task_id,
                        "gen_ai.operation.name": "chat",
                        "gen_ai.provider.name": "anthropic",
                        "gen_ai.request.model": "claude-sonnet-4",
                        "gen_ai.usage.input_tokens": 1000,
                        "gen_ai.usage.cache_read.input_tokens": 800,
                        "gen_ai.usage.output_tokens": 100,
                    },
                ):
                    pass
                with tracer.start_as_current_span(
                    "execute_tool lookup",
                    attributes={
                        "dashboard.task_id": task_id,
                        "gen_ai.operation.name": "execute_tool",
                        "gen_ai.tool.name": "lookup",
                        "gen_ai.tool.call.id": f"call-{turn}",
                        "gen_ai.tool.call.result": f"result {turn}",
                    },
                ):
                    pass
            if fail:
                agent.set_status(Status(StatusCode.ERROR, "the model refused"))
    finally:
        assert provider.force_flush(10_000)
        provider.shutdown()


def wait_for_task(server: Server, task_id: str, status: str) -> dict[str, object]:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        response = httpx.get(f"{server.url}/api/tasks/{task_id}")
        if response.status_code == 200 and response.json()["status"] == status:
            task: dict[str, object] = response.json()
            return task
        time.sleep(0.1)
    raise AssertionError(f"task {task_id} never became {status}")


def test_the_sdk_exporter_reports_a_task_with_its_usage(server: Server) -> None:
    run_agent(server, "otel-e2e-1")
    task = wait_for_task(server, "otel-e2e-1", "completed")
    assert task["agent_type"] == "support"
    assert task["model"] == "claude-sonnet-4"
    assert (task["input_tokens"], task["cache_read_tokens"], task["output_tokens"]) == (
        400,
        1600,
        200,
    )
    # 400 x $3 + 1600 x $0.30 + 200 x $15, per million tokens
    assert task["cost_usd"] == 0.00468
    assert task["conversation_id"] == "conv-otel-e2e-1"
    history = httpx.get(f"{server.url}/api/conversations/conv-otel-e2e-1").json()
    assert history["totals"]["tasks"] == 1


def test_a_failed_agent_span_fails_the_task(server: Server) -> None:
    run_agent(server, "otel-e2e-2", fail=True)
    task = wait_for_task(server, "otel-e2e-2", "failed")
    assert task["error"] == "the model refused"


async def test_concurrent_exports_of_one_task_count_every_span_once(server: Server) -> None:
    """Exporters in four processes of one agent send the spans of one task at once. Each
    span adds to the task's totals: none may be refused for contention (an exporter does not
    resend a partial success) and none may overwrite another's addition."""
    task_id = f"otel-race-{uuid.uuid4().hex[:8]}"
    trace = uuid.uuid4().hex

    def chat(number: int) -> dict[str, Any]:
        return span(
            f"{number:016x}",
            "chat claude-sonnet-4",
            {
                "dashboard.task_id": task_id,
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": "claude-sonnet-4",
                "gen_ai.usage.input_tokens": 100,
                "gen_ai.usage.output_tokens": 10,
            },
            parent="aaaaaaaaaaaaaaaa",
            start_s=number,
            end_s=number + 1,
            trace=trace,
        )

    async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:

        async def export(first: int) -> dict[str, Any]:
            body = request(*(chat(first + n) for n in range(25)))
            response = await client.post("/v1/traces", json=body)
            assert response.status_code == 200, response.text
            return response.json()  # type: ignore[no-any-return]

        answers = await asyncio.gather(*(export(1 + 100 * k) for k in range(4)))
        assert answers == [{}, {}, {}, {}]  # no span refused
        task = (await client.get(f"/api/tasks/{task_id}")).json(parse_float=Decimal)
    assert (task["input_tokens"], task["output_tokens"]) == (100 * 100, 100 * 10)
    # claude-sonnet-4 at $3 / $15 per million: 100 spans of 100 in and 10 out.
    assert task["cost_usd"] == Decimal("0.045")


async def test_a_span_whose_counts_would_overflow_the_task_is_refused_alone(
    server: Server,
) -> None:
    """A span reporting 2**63 - 1 tokens (or a total past what the API accepts of any engine)
    is one refused span of a partial success, never a 500; the export's other spans count."""
    task_id = f"otel-huge-{uuid.uuid4().hex[:8]}"
    trace = uuid.uuid4().hex

    def chat(number: int, tokens: int) -> dict[str, Any]:
        attributes = {
            "dashboard.task_id": task_id,
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "claude-sonnet-4",
            "gen_ai.usage.input_tokens": tokens,
        }
        return span(f"{number:016x}", "chat", attributes, parent="aaaaaaaaaaaaaaaa", trace=trace)

    async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
        body = request(chat(1, 2**63 - 1), chat(2, 100), chat(3, 10**12))
        response = await client.post("/v1/traces", json=body)
        assert response.status_code == 200, response.text
        answer = response.json()["partialSuccess"]
        assert answer["rejectedSpans"] == 2
        assert "input_tokens" in answer["errorMessage"]
        task = (await client.get(f"/api/tasks/{task_id}")).json()
    assert task["input_tokens"] == 100


async def test_span_text_postgresql_cannot_hold_is_kept_with_a_replacement(
    server: Server,
) -> None:
    """A NUL in a span's model, input or status message (PostgreSQL text cannot hold it)
    becomes U+FFFD: the span counts, and the export's other spans are not lost to a 422."""
    task_id = f"otel-nul-{uuid.uuid4().hex[:8]}"
    trace = uuid.uuid4().hex
    agent = span(
        "aaaaaaaaaaaaaaaa",
        "invoke_agent",
        {
            "dashboard.task_id": task_id,
            "gen_ai.operation.name": "invoke_agent",
        },
        start_s=0,
        end_s=5,
        error=True,
        trace=trace,
    )
    agent["status"]["message"] = "boom\x00"
    chat = span(
        "bbbbbbbbbbbbbbbb",
        "chat",
        {
            "dashboard.task_id": task_id,
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "model\x00x",
            "gen_ai.input.messages": "fix\x00it",  # the first span applied registers the task
            "gen_ai.usage.input_tokens": 7,
        },
        parent="aaaaaaaaaaaaaaaa",
        trace=trace,
    )
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
        response = await client.post("/v1/traces", json=request(chat, agent))
        assert response.status_code == 200, response.text
        assert response.json() == {}
        task = (await client.get(f"/api/tasks/{task_id}")).json()
    assert (task["status"], task["input_tokens"]) == ("failed", 7)
    assert task["model"] == "model\ufffdx"
    assert task["input_message"] == "fix\ufffdit"
    assert task["error"] == "boom\ufffd"
