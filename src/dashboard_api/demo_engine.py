"""A simulated agent engine for `dashboard-api demo`: tasks that stream output token by token.

It drives the service through the same doors a real engine uses (durable lifecycle events and
live output through `EnginePublisher`), so the demo shows the real path end to end.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from decimal import Decimal

from dashboard_api.engine import EnginePublisher

AGENTS = ("planner", "coder", "reviewer")
MODELS = ("claude-sonnet", "claude-haiku")
PROMPTS = (
    "Summarise the failing CI run on main",
    "Add pagination to the invoices endpoint",
    "Review the pull request that touches the billing service",
    "Triage the Sentry error spike from the last hour",
)
ANSWER = (
    "Looked at the request, read the relevant files, and planned the change. "
    "Step one: reproduce the problem with a focused test. Step two: make the smallest fix "
    "that passes it. Step three: run the whole suite and write a short summary for the team."
)


async def run_demo_engine(
    engine: EnginePublisher, *, tokens_per_second: float = 15, concurrent: int = 2
) -> None:
    """Run tasks forever, `concurrent` at a time, until cancelled."""
    rng = random.Random()
    await asyncio.gather(*(_worker(engine, rng, tokens_per_second) for _ in range(concurrent)))


async def _worker(engine: EnginePublisher, rng: random.Random, tokens_per_second: float) -> None:
    while True:
        await run_one_task(engine, rng, tokens_per_second)
        await asyncio.sleep(rng.uniform(0.5, 2.0))


async def run_one_task(
    engine: EnginePublisher, rng: random.Random, tokens_per_second: float
) -> str:
    task_id = f"demo-{uuid.uuid4().hex[:12]}"
    agent, model = rng.choice(AGENTS), rng.choice(MODELS)
    prompt = rng.choice(PROMPTS)
    await engine.lifecycle(
        "task.created",
        task_id,
        agent_type=agent,
        model=model,
        input_message=prompt,
        source="dashboard",
    )
    await asyncio.sleep(0.3)
    await engine.lifecycle("task.started", task_id, assigned_agent=f"{agent}-1")
    words = ANSWER.split(" ")
    for word in words:
        await engine.output(task_id, word + " ")
        await asyncio.sleep(1 / tokens_per_second)
    input_tokens, output_tokens = len(prompt.split()) * 40, len(words) * 3
    cost = Decimal(input_tokens) * Decimal("0.000003") + Decimal(output_tokens) * Decimal(
        "0.000015"
    )
    if rng.random() < 0.1:
        await engine.lifecycle("task.failed", task_id, error="the agent ran out of retries")
    else:
        await engine.lifecycle(
            "task.completed",
            task_id,
            output=ANSWER,
            cost_usd=str(cost),
            input_tokens=input_tokens,
            output_tokens=output_tokens,
        )
    return task_id
