"""Outgoing alert webhooks over HTTP (httpx). Anything but an answer is an OSError to retry."""

from __future__ import annotations

from collections.abc import Mapping

import httpx


class HttpAlertSender:
    def __init__(self, *, timeout_seconds: float = 10.0) -> None:
        # One client: connections to a webhook endpoint are reused between alerts.
        self._client = httpx.AsyncClient(timeout=timeout_seconds, follow_redirects=False)

    async def send(self, endpoint: str, headers: Mapping[str, str], body: bytes) -> int:
        try:
            response = await self._client.post(endpoint, content=body, headers=dict(headers))
        except httpx.HTTPError as exc:
            raise OSError(f"{type(exc).__name__}: {exc}") from exc
        return response.status_code

    async def close(self) -> None:
        await self._client.aclose()
