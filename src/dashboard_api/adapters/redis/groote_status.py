"""The groote-ai engine's status notes: pub/sub `task:{id}:status`, read with PSUBSCRIBE.

Pub/sub keeps nothing: a note sent while this listener reconnects is gone, which is why the
notes only add to what the stream and the REST reports carry (GrooteBridge.status_note).
Every replica receives every note; applying one is idempotent, so that is harmless.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from dashboard_api.adapters.redis.pubsub_connection import PubSubConnection

log = logging.getLogger(__name__)

PATTERN = "task:*:status"
HEARTBEAT_SECONDS = 5.0
_MAX_BACKOFF_SECONDS = 2.0

StatusNote = Callable[[str, dict[str, Any]], Awaitable[None]]


async def listen_for_status_notes(url: str, apply: StatusNote) -> None:
    """Apply every note until cancelled, reconnecting after any drop."""
    backoff = 0.05
    while True:
        connection: PubSubConnection | None = None
        try:
            connection = await PubSubConnection.open(url)
            connection.send("PSUBSCRIBE", PATTERN)
            backoff = 0.05
            while True:
                try:
                    reply = await asyncio.wait_for(connection.read(), HEARTBEAT_SECONDS)
                except TimeoutError:
                    connection.send("PING")  # answered within the next wait, or the socket is dead
                    reply = await asyncio.wait_for(connection.read(), HEARTBEAT_SECONDS)
                await _dispatch(reply, apply)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("groote status notes: connection lost (%r); reconnecting", exc)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, _MAX_BACKOFF_SECONDS)
        finally:
            if connection is not None:
                connection.close()


async def _dispatch(reply: Any, apply: StatusNote) -> None:
    if not isinstance(reply, list) or len(reply) != 4 or reply[0] != b"pmessage":
        return  # subscription confirmations and pongs
    channel = reply[2].decode(errors="replace")
    task_id = channel.removeprefix("task:").removesuffix(":status")
    try:
        note = msgspec.json.decode(reply[3])
    except msgspec.DecodeError:
        log.warning("groote status note on %s is not JSON", channel[:200])
        return
    if not isinstance(note, dict) or not task_id or len(task_id) > 128:
        return
    try:
        await apply(task_id, note)
    except Exception as exc:  # one bad note must not stop the others
        log.warning("groote status note on %s not applied: %r", channel[:200], exc)
