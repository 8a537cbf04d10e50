"""Budgets, failure-rate rules and outgoing alert webhooks from a TOML file (alerts.example.toml).
A webhook's secret may come from an environment variable (`secret_env`), never from the API."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path

import msgspec

from dashboard_api.domain.model.budgets import Budget, BudgetScope, FailureRateRule
from dashboard_api.domain.services.alerts import AlertWebhook


class _Webhook(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: str
    url: str
    secret: str | None = None
    secret_env: str | None = None


class AlertsConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    budgets: list[Budget] = []
    failure_rates: list[FailureRateRule] = []
    webhooks: list[AlertWebhook] = []


class _File(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    budgets: list[Budget] = []
    failure_rates: list[FailureRateRule] = []
    webhooks: list[_Webhook] = []


def load_alerts_file(path: str | Path, environ: Mapping[str, str] | None = None) -> AlertsConfig:
    """Parse and check the file; a malformed one raises ValueError naming the problem."""
    environ = os.environ if environ is None else environ
    try:
        raw = tomllib.loads(Path(path).read_text(), parse_float=str)
        parsed = msgspec.convert(raw, _File, strict=False)
    except (OSError, tomllib.TOMLDecodeError, msgspec.ValidationError) as exc:
        raise ValueError(f"alerts file {path}: {exc}") from exc
    problems = [_budget_problem(b) for b in parsed.budgets]
    problems += [_rule_problem(r) for r in parsed.failure_rates]
    names = [b.name for b in parsed.budgets] + [r.name for r in parsed.failure_rates]
    if len(set(names)) != len(names):
        problems.append("budget and rule names must be unique (they are part of alert ids)")
    webhooks = []
    for hook in parsed.webhooks:
        secret = environ.get(hook.secret_env) if hook.secret_env else hook.secret
        if hook.secret_env and not secret:
            problems.append(f"webhook {hook.name}: ${hook.secret_env} is not set")
        webhooks.append(AlertWebhook(name=hook.name, url=hook.url, secret=secret))
    found = [problem for problem in problems if problem]
    if found:
        raise ValueError(f"alerts file {path}: {found[0]}")
    return AlertsConfig(
        budgets=parsed.budgets, failure_rates=parsed.failure_rates, webhooks=webhooks
    )


def _budget_problem(budget: Budget) -> str | None:
    if not budget.limit_usd.is_finite() or budget.limit_usd <= 0:
        return f"budget {budget.name}: limit_usd must be positive"
    if (budget.scope is BudgetScope.AGENT_TYPE) != (budget.agent_type is not None):
        return f"budget {budget.name}: agent_type is given exactly for scope agent_type"
    keyed = budget.scope in (BudgetScope.USER, BudgetScope.CONVERSATION)
    if keyed != (budget.key is not None):
        return f"budget {budget.name}: key (the user or conversation id) goes with those scopes"
    if not budget.thresholds or any(not 0 < t <= 1000 for t in budget.thresholds):
        return f"budget {budget.name}: thresholds are percents from 1 to 1000"
    return None


def _rule_problem(rule: FailureRateRule) -> str | None:
    if not 0 < rule.max_failure_rate <= 1:
        return f"failure rate {rule.name}: max_failure_rate is a fraction in (0, 1]"
    if not 1 <= rule.window_hours <= 24 * 31 or rule.min_finished < 1:
        return f"failure rate {rule.name}: window_hours 1-744 and min_finished >= 1"
    return None
