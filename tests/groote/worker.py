"""A script that behaves exactly like the groote-ai worker and gateway toward this service:
the same XADD, PUBLISH and REST calls, with the same bodies, in their order (from their
agent-engine/worker.py, services/redis_ops.py, dashboard_client.py, conversation_bridge.py
and api-gateway's EventPublisher). Their REST errors are swallowed where theirs are."""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx
from redis.asyncio import Redis


class GrooteWorker:
    def __init__(self, redis: Redis, dashboard_url: str, stream: str = "task_events") -> None:
        self.redis = redis
        self.url = dashboard_url
        self.stream = stream
        self.http = httpx.AsyncClient(timeout=10.0)
        # Statuses of the calls whose errors the engine swallows: a test asserts them.
        self.swallowed: list[int] = []

    async def close(self) -> None:
        await self.http.aclose()

    # services/redis_ops.py
    async def publish_task_event(self, task_id: str, event_type: str, data: dict[str, Any]) -> None:
        await self.redis.xadd(
            self.stream,
            {
                "type": event_type,
                "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "task_id": task_id,
                "data": json.dumps(data),
            },
        )

    async def update_task_status(
        self, task_id: str, status: str, result: dict[str, Any] | None = None
    ) -> None:
        update: dict[str, Any] = {"status": status}
        if result:
            update["result"] = result
        await self.redis.hset(f"task:{task_id}", mapping={"data": json.dumps(update)})
        await self.redis.publish(f"task:{task_id}:status", json.dumps(update))

    # api-gateway EventPublisher._publish
    async def publish_webhook_event(
        self, event_type: str, webhook_event_id: str, data: dict[str, Any]
    ) -> None:
        await self.redis.xadd(
            self.stream,
            {
                "type": event_type,
                "webhook_event_id": webhook_event_id,
                "timestamp": datetime.now(UTC).isoformat(),
                "data": json.dumps(data),
            },
        )

    # services/dashboard_client.py
    async def update_dashboard_task(self, task_id: str, update: dict[str, Any]) -> None:
        with contextlib.suppress(Exception):  # theirs logs and goes on
            response = await self.http.patch(
                f"{self.url}/api/tasks/{task_id}",
                json={k: v for k, v in update.items() if v is not None},
            )
            self.swallowed.append(response.status_code)

    async def post_assistant_message(
        self, conversation_id: str, content: str, task_id: str
    ) -> None:
        with contextlib.suppress(Exception):
            response = await self.http.post(
                f"{self.url}/api/conversations/{conversation_id}/messages",
                json={"role": "assistant", "content": content, "task_id": task_id},
            )
            self.swallowed.append(response.status_code)

    # services/conversation_bridge.py
    async def get_or_create_flow_conversation(self, task: dict[str, Any]) -> str:
        flow_id = build_flow_id(task)
        response = await self.http.get(
            f"{self.url}/api/conversations/by-flow/{quote(flow_id, safe='')}"
        )
        if response.status_code == 200:
            return str(response.json()["conversation_id"])
        response = await self.http.post(
            f"{self.url}/api/conversations",
            json={
                "flow_id": flow_id,
                "title": f"GitHub: shop#{task['issue']['number']} - {task['issue']['title']}",
                "source": task.get("source", "webhook"),
                "metadata": source_metadata(task),
            },
        )
        response.raise_for_status()
        return str(response.json()["conversation_id"])

    async def register_task(self, task: dict[str, Any], conversation_id: str) -> None:
        response = await self.http.post(
            f"{self.url}/api/tasks",
            json={
                "task_id": task["task_id"],
                "source": task.get("source", "webhook"),
                "source_metadata": source_metadata(task),
                "input_message": task.get("prompt", ""),
                "assigned_agent": task.get("assigned_agent", "brain"),
                "conversation_id": conversation_id,
                "flow_id": build_flow_id(task),
            },
        )
        response.raise_for_status()

    async def post_system_message(self, conversation_id: str, task: dict[str, Any]) -> None:
        metadata = source_metadata(task)
        content = (
            f"🐙 **GitHub Webhook Triggered**\n\nRepo: {metadata['repo']}\n"
            f"Issue/PR: #{metadata['number']}\nTitle: {metadata['title']}"
        )
        body = {"role": "system", "content": content, "task_id": task["task_id"]}
        response = await self.http.post(
            f"{self.url}/api/conversations/{conversation_id}/messages", json=body
        )
        response.raise_for_status()

    async def fetch_conversation_context(self, conversation_id: str) -> list[dict[str, Any]]:
        response = await self.http.get(
            f"{self.url}/api/conversations/{conversation_id}/context",
            params={"max_messages": 5, "roles": "user,assistant"},
        )
        response.raise_for_status()
        context: list[dict[str, Any]] = response.json()
        return context

    # api-gateway: a GitHub webhook becomes a task
    async def gateway_receives(self, task: dict[str, Any]) -> str:
        webhook_event_id = str(uuid.uuid4())
        common = {"source": "github", "event_type": "issue_comment"}
        await self.publish_webhook_event(
            "webhook:received", webhook_event_id, {**common, "payload_size": 5123}
        )
        await self.publish_webhook_event(
            "webhook:validated", webhook_event_id, {"signature_valid": True}
        )
        await self.publish_webhook_event(
            "webhook:matched", webhook_event_id, {**common, "matched_handler": "issue_comment"}
        )
        await self.publish_webhook_event(
            "webhook:task_created",
            webhook_event_id,
            {"task_id": task["task_id"], **common, "input_message": task["prompt"]},
        )
        return webhook_event_id

    # worker.py TaskWorker._process_task, for a GitHub task that completes
    async def process_task(self, task: dict[str, Any], result: dict[str, Any]) -> None:
        task_id = task["task_id"]
        session_id = task.get("session_id")
        conversation_id = task.get("conversation_id")
        task["assigned_agent"] = "brain"
        for event_type, extra in [
            (
                "task:created",
                {"input_message": task["prompt"], "source": "github", "assigned_agent": "brain"},
            ),
            ("task:started", {"conversation_id": conversation_id}),
        ]:
            await self.publish_task_event(
                task_id, event_type, {"task_id": task_id, "session_id": session_id, **extra}
            )
        webhook_conversation_id = await self.get_or_create_flow_conversation(task)
        await self.register_task(task, webhook_conversation_id)
        await self.post_system_message(webhook_conversation_id, task)
        await self.fetch_conversation_context(webhook_conversation_id)
        await self.publish_task_event(
            task_id,
            "task:context_built",
            {
                "task_id": task_id,
                "enriched_prompt": "context...\n" + task["prompt"],
                "flow_id": build_flow_id(task),
                "conversation_id": webhook_conversation_id,
                "source_metadata": {"source": "github", "event_type": "issue_comment"},
            },
        )
        await self.update_task_status(task_id, "in_progress")
        await self.update_dashboard_task(task_id, {"status": "running"})
        for event_type, data in result["stream"]:  # the CLI's events while it runs
            await self.publish_task_event(task_id, event_type, {"task_id": task_id, **data})
        await self.update_task_status(task_id, "completed", result["result"])
        output = result["result"]["output"]
        await self.publish_task_event(
            task_id, "task:raw_output", {"task_id": task_id, "raw_output": "[raw] " + output}
        )
        await self.publish_task_event(
            task_id, "task:output", {"task_id": task_id, "content": output}
        )
        figures = {
            k: result["result"].get(k) for k in ("cost_usd", "input_tokens", "output_tokens")
        }
        await self.publish_task_event(
            task_id,
            "task:completed",
            {
                "task_id": task_id,
                "session_id": session_id,
                "conversation_id": conversation_id,
                "status": "completed",
                "result": output,
                "duration_seconds": 2.5,
                **figures,
            },
        )
        await self.update_dashboard_task(
            task_id,
            {
                "status": "completed",
                "output": output[:10000],
                "error": None,
                **figures,
                "duration_seconds": 2.5,
            },
        )
        await self.post_assistant_message(webhook_conversation_id, output, task_id)
        await self.publish_task_event(
            task_id,
            "task:response_posted",
            {
                "task_id": task_id,
                "method": "mcp",
                "source": "github",
                "mcp_detected": True,
                "fallback_posted": False,
            },
        )


def source_metadata(task: dict[str, Any]) -> dict[str, Any]:
    return {
        "repo": task["repository"]["full_name"],
        "number": task["issue"]["number"],
        "title": task["issue"]["title"],
    }


def build_flow_id(task: dict[str, Any]) -> str:
    metadata = source_metadata(task)
    return f"github:{metadata['repo']}#{metadata['number']}"
