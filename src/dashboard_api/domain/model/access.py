"""Who may do what: bearer API tokens, each with scopes; and the networks from which the
groote-ai engine's REST calls, which carry no token, are taken as that engine's."""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable
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


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(spec: Iterable[str]) -> tuple[Network, ...]:
    """Networks from CIDRs or single addresses (`10.0.0.0/8`, `127.0.0.1`, `fd00::/8`).

    A network of every address (`0.0.0.0/0`, `::/0`) is refused: it would turn the token off
    for whoever can reach the port."""
    networks: list[Network] = []
    for entry in spec:
        try:
            network = ipaddress.ip_network(entry.strip(), strict=False)
        except ValueError as exc:
            raise ValueError(f"{entry!r} is not an address or a CIDR network") from exc
        if network.prefixlen == 0:
            raise ValueError(f"{entry!r} is every address: give the engine's networks")
        networks.append(network)
    return tuple(networks)


class Access:
    """Checks a presented secret against the configured tokens."""

    def __init__(
        self, tokens: dict[str, ApiToken], engine_networks: tuple[Network, ...] = ()
    ) -> None:
        self._tokens = tokens
        self._engine_networks = engine_networks

    def trusts_engine_at(self, address: str | None) -> bool:
        """Whether a call without credentials from `address` may be taken as the groote-ai
        engine's (only on the routes it uses; http/auth.py). An IPv4 client of a dual-stack
        socket (`::ffff:10.0.0.5`) is matched as its IPv4 address."""
        if not self._engine_networks or not address:
            return False
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return False  # a Unix socket or a test client's name: never trusted
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in network for network in self._engine_networks)

    @property
    def enabled(self) -> bool:
        return bool(self._tokens)

    def token_for(self, secret: str | None) -> ApiToken | None:
        # Looking up the digest (not comparing secrets) leaks nothing about a secret's prefix.
        return self._tokens.get(digest(secret)) if secret else None

    def token_with_digest(self, token_digest: str) -> ApiToken | None:
        """The token a ticket was issued to (tickets keep the digest, never the secret)."""
        return self._tokens.get(token_digest)
