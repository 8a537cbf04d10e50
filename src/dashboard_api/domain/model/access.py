"""Who may do what: bearer API tokens, each with scopes."""

from __future__ import annotations

import hashlib
from enum import StrEnum

import msgspec


class Scope(StrEnum):
    READ = "read"  # everything a dashboard shows, and the WebSocket
    WRITE = "write"  # what a dashboard user changes (stop a task, post a message, …)
    INGEST = "ingest"  # what an agent engine or a gateway reports


class ApiToken(msgspec.Struct, frozen=True):
    name: str
    scopes: frozenset[Scope]
    digest: str  # sha256 of the secret: the secret itself is never kept


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_tokens(spec: str) -> dict[str, ApiToken]:
    """Tokens from `name:scope+scope:secret,name:scope:secret`, keyed by the secret's digest."""
    tokens: dict[str, ApiToken] = {}
    for entry in filter(None, (part.strip() for part in spec.split(","))):
        name, _, rest = entry.partition(":")
        scope_text, _, secret = rest.partition(":")
        if not name or not secret or len(secret) < 16:
            raise ValueError(
                f"token {name!r}: expected name:scopes:secret with a secret of 16+ characters"
            )
        scopes = frozenset(Scope(scope) for scope in scope_text.split("+"))
        tokens[digest(secret)] = ApiToken(name=name, scopes=scopes, digest=digest(secret))
    return tokens


class Access:
    """Checks a presented secret against the configured tokens."""

    def __init__(self, tokens: dict[str, ApiToken]) -> None:
        self._tokens = tokens

    @property
    def enabled(self) -> bool:
        return bool(self._tokens)

    def token_for(self, secret: str | None) -> ApiToken | None:
        # Looking up the digest (not comparing secrets) leaks nothing about a secret's prefix.
        return self._tokens.get(digest(secret)) if secret else None

    def token_with_digest(self, token_digest: str) -> ApiToken | None:
        """The token a ticket was issued to (tickets keep the digest, never the secret)."""
        return self._tokens.get(token_digest)
