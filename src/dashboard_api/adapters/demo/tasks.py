"""The tasks of the demo's history: five agent types and their models, prices, prompts, failure
rates and durations, spread over working hours (see demo_history.py)."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from dashboard_api.domain.model.tasks import Task, TaskStatus


@dataclass(frozen=True)
class Agent:
    name: str
    models: tuple[str, ...]
    per_hour: float  # tasks per working hour
    failure_rate: float
    median_seconds: float
    output_tokens: int


AGENTS = (
    Agent("coder", ("claude-sonnet-4", "gpt-4.1"), 1.1, 0.08, 240, 2400),
    Agent("reviewer", ("claude-sonnet-4",), 0.8, 0.04, 90, 900),
    Agent("planner", ("claude-opus-4", "claude-sonnet-4"), 0.45, 0.05, 150, 1500),
    Agent("triager", ("claude-haiku-4", "gpt-4.1-mini"), 0.9, 0.12, 25, 350),
    Agent("docs-writer", ("claude-haiku-4",), 0.4, 0.03, 60, 1200),
)
# USD per million input and output tokens, as an engine would report them.
PRICES = {
    "claude-opus-4": (Decimal(15), Decimal(75)),
    "claude-sonnet-4": (Decimal(3), Decimal(15)),
    "claude-haiku-4": (Decimal("0.8"), Decimal(4)),
    "gpt-4.1": (Decimal(2), Decimal(8)),
    "gpt-4.1-mini": (Decimal("0.4"), Decimal("1.6")),
}
SOURCES = (
    ("github", 0.35),
    ("jira", 0.2),
    ("slack", 0.15),
    ("sentry", 0.1),
    ("api", 0.1),
    ("dashboard", 0.1),
)
WORK = {
    "coder": (
        "Fix the flaky test in {repo}",
        "Add pagination to the {thing} endpoint",
        "Upgrade {lib} in {repo} and fix what breaks",
    ),
    "reviewer": ("Review PR #{n} in {repo}", "Check the migration in PR #{n} for locking issues"),
    "planner": ("Plan the rollout of {thing} v2", "Break down epic {ticket} into tasks"),
    "triager": ("Triage Sentry issue {ticket}", "Classify the Slack report about {thing}"),
    "docs-writer": ("Document the {thing} API", "Write release notes for {repo}"),
}
REPOS = ("acme/billing", "acme/web", "acme/api-gateway", "acme/infra")
THINGS = ("invoices", "search", "checkout", "notifications", "audit log")
FAILURES = (
    "the agent ran out of retries",
    "tool call timed out after 120 s",
    "rate limited by the model provider",
    "tests still failing after 3 attempts",
)


def task_history(rng: random.Random, start: datetime, now: datetime) -> list[Task]:
    """Finished tasks of every agent, hour by hour from `start` to the hour before `now`."""
    made: list[Task] = []
    hour = start
    while hour < now - timedelta(hours=1):
        # Busy on weekday working hours (UTC), quiet at night and at weekends.
        working = hour.weekday() < 5 and 7 <= hour.hour < 19
        load = (1.0 if working else 0.15) * (1 + 0.3 * math.sin(hour.timestamp() / 86_400))
        for agent in AGENTS:
            for _ in range(_poisson(rng, agent.per_hour * load)):
                made.append(
                    demo_task(rng, agent, hour + timedelta(seconds=rng.uniform(0, 3599)), now)
                )
        hour += timedelta(hours=1)
    return made


def demo_task(
    rng: random.Random,
    agent: Agent,
    created_at: datetime,
    now: datetime,
    *,
    conversation_id: str | None = None,
    prompt: str | None = None,
) -> Task:
    """One finished task of `agent` created at `created_at`: model, tokens, cost, outcome."""
    model = rng.choice(agent.models)
    waited = rng.uniform(0.5, 20)
    ran = rng.lognormvariate(math.log(agent.median_seconds), 0.6)
    started_at = created_at + timedelta(seconds=waited)
    completed_at = min(started_at + timedelta(seconds=ran), now)
    failed = rng.random() < agent.failure_rate
    cancelled = not failed and rng.random() < 0.01
    status = (
        TaskStatus.FAILED if failed else TaskStatus.CANCELLED if cancelled else TaskStatus.COMPLETED
    )
    input_tokens = int(rng.lognormvariate(math.log(6000), 0.7))
    output_tokens = int(agent.output_tokens * rng.uniform(0.3, 1.7) * (0.4 if failed else 1))
    cache_read = int(input_tokens * rng.uniform(0, 0.6))
    price_in, price_out = PRICES[model]
    cost = (price_in * input_tokens + price_out * output_tokens) / Decimal(1_000_000)
    source = "dashboard" if conversation_id else _weighted(rng, SOURCES)
    return Task(
        task_id=f"demo-h-{created_at:%Y%m%d%H%M%S}-{rng.randrange(16**6):06x}",
        status=status,
        agent_type=agent.name,
        source=source,
        created_at=created_at,
        input_message=prompt or _prompt(rng, agent),
        assigned_agent=f"{agent.name}-{rng.randint(1, 3)}",
        conversation_id=conversation_id,
        output=None if failed else f"Done: {(prompt or 'the task').lower()[:80]}. Summary posted.",
        error=rng.choice(FAILURES) if failed else None,
        model=model,
        cost_usd=cost.quantize(Decimal("0.000001")),
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cache_read_tokens=cache_read,
        started_at=started_at,
        completed_at=completed_at,
    )


def _prompt(rng: random.Random, agent: Agent) -> str:
    return rng.choice(WORK[agent.name]).format(
        repo=rng.choice(REPOS),
        thing=rng.choice(THINGS),
        lib=rng.choice(("pydantic", "react", "sqlalchemy")),
        n=rng.randint(1200, 4800),
        ticket=f"PLAT-{rng.randint(100, 999)}",
    )


def _poisson(rng: random.Random, mean: float) -> int:
    threshold, k, product = math.exp(-mean), 0, rng.random()
    while product > threshold:
        k += 1
        product *= rng.random()
    return k


def _weighted(rng: random.Random, choices: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([name for name, _ in choices], [weight for _, weight in choices])[0]
