"""Webhook configs from a TOML file (see webhooks.example.toml). Secrets are read only to learn
whether one is set: they never leave this module."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated

import msgspec

from dashboard_api.domain.model.webhooks import WebhookConfig

_Id = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]


class _Entry(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    webhook_id: _Id
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    provider: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    endpoint: Annotated[str, msgspec.Meta(min_length=1, max_length=512)]
    enabled: bool = True
    secret: str | None = None
    secret_env: str | None = None  # the name of an environment variable holding the secret


class _File(msgspec.Struct, forbid_unknown_fields=True):
    webhooks: list[_Entry] = []


def load_webhook_file(path: Path, environ: dict[str, str] | None = None) -> list[WebhookConfig]:
    """Parse and validate the file; a malformed one raises ValueError naming the problem."""
    environ = dict(os.environ) if environ is None else environ
    try:
        raw = tomllib.loads(path.read_text())
        parsed = msgspec.convert(raw, _File)
    except (OSError, tomllib.TOMLDecodeError, msgspec.ValidationError) as exc:
        raise ValueError(f"webhook config file {path}: {exc}") from exc
    configs: dict[str, WebhookConfig] = {}
    for entry in parsed.webhooks:
        if entry.webhook_id in configs:
            raise ValueError(f"webhook config file {path}: {entry.webhook_id} appears twice")
        has_secret = bool(entry.secret) or bool(entry.secret_env and environ.get(entry.secret_env))
        configs[entry.webhook_id] = WebhookConfig(
            webhook_id=entry.webhook_id,
            name=entry.name,
            provider=entry.provider,
            endpoint=entry.endpoint,
            enabled=entry.enabled,
            has_secret=has_secret,
            origin="file",
        )
    return list(configs.values())


class WebhookConfigFile:
    """A config source read once at start: the file is part of the deployment, like settings."""

    def __init__(self, path: Path) -> None:
        self._configs = load_webhook_file(path)

    async def all(self) -> list[WebhookConfig]:
        return list(self._configs)
