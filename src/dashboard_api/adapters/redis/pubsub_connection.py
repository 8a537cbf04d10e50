"""A bare Redis pub/sub connection: RESP over asyncio streams, replies parsed by hiredis.

redis-py's PubSub reconnects and resubscribes behind the caller's back, so the hub could not
tell that it must fetch what was published during the outage; this one fails loudly instead.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any
from urllib.parse import unquote, urlsplit

import hiredis

_READ_SIZE = 256 * 1024


def encode_command(*parts: str | bytes) -> bytes:
    chunks = [b"*%d\r\n" % len(parts)]
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        chunks.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(chunks)


class PubSubConnection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._parser = hiredis.Reader()

    @classmethod
    async def open(cls, url: str, *, connect_seconds: float = 5.0) -> PubSubConnection:
        """Connect and authenticate as the URL says (`redis://[user:pass@]host[:port][/db]`)."""
        parts = urlsplit(url)
        context = ssl.create_default_context() if parts.scheme == "rediss" else None
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(parts.hostname or "127.0.0.1", parts.port or 6379, ssl=context),
            connect_seconds,
        )
        connection = cls(reader, writer)
        if parts.password:
            user = [unquote(parts.username)] if parts.username else []
            connection.send("AUTH", *user, unquote(parts.password))
            reply = await asyncio.wait_for(connection.read(), connect_seconds)
            if isinstance(reply, hiredis.ReplyError):
                connection.close()
                raise ConnectionError(f"Redis refused the credentials: {reply}")
        return connection

    def send(self, *parts: str | bytes) -> None:
        self._writer.write(encode_command(*parts))

    def pending(self) -> Any:
        """The next reply already received, or False when more bytes are needed."""
        return self._parser.gets()

    async def fill(self) -> None:
        data = await self._reader.read(_READ_SIZE)
        if not data:
            raise ConnectionError("Redis closed the connection")
        self._parser.feed(data)

    async def read(self) -> Any:
        while (reply := self._parser.gets()) is False:
            await self.fill()
        return reply

    def close(self) -> None:
        self._writer.close()
