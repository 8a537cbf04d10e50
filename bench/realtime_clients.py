"""Benchmark clients, run in their own process: N WebSocket clients that subscribe, then record
publish-to-receive latency (the publisher stamps `t` with time.monotonic(), shared by every
process on the machine) until told to stop.

The clients speak just enough RFC 6455 (handshake, unmasked text frames from the server,
masked frames to it) on raw asyncio protocols: a full client library costs several times more
CPU per frame, and on a 2-core machine that CPU is taken from the server being measured.

    python -m bench.realtime_clients URL FIRST COUNT CHANNEL_PATTERN
        stdout: {"connected": n}; stdin: "go" starts measuring, EOF stops; stdout: JSON results
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import struct
import sys
import time
from typing import Any
from urllib.parse import urlsplit


class Recorder:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.received = 0
        self.last = 0.0
        self.closed = 0

    def frame(self, payload: bytes) -> None:
        now = time.monotonic()
        stamp = json.loads(payload).get("t")
        if stamp is not None:
            self.latencies.append(now - stamp)
            self.received += 1
            self.last = now


class Client(asyncio.Protocol):
    def __init__(self, recorder: Recorder, channel: str, ready: asyncio.Future[None]) -> None:
        self.recorder = recorder
        self.channel = channel
        self.ready = ready
        self.buffer = b""
        self.upgraded = False
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.upgraded:
            _, sep, rest = self.buffer.partition(b"\r\n\r\n")
            if not sep:
                return
            self.upgraded = True
            self.buffer = rest
            self.send(json.dumps({"type": "subscribe", "channel": self.channel}).encode())
        while len(self.buffer) >= 2:
            length = self.buffer[1] & 0x7F
            offset = 2
            if length == 126:
                if len(self.buffer) < 4:
                    return
                length, offset = struct.unpack("!H", self.buffer[2:4])[0], 4
            elif length == 127:
                if len(self.buffer) < 10:
                    return
                length, offset = struct.unpack("!Q", self.buffer[2:10])[0], 10
            if len(self.buffer) < offset + length:
                return
            opcode = self.buffer[0] & 0x0F
            payload = self.buffer[offset : offset + length]
            self.buffer = self.buffer[offset + length :]
            if opcode == 1 and not self.ready.done():
                self.ready.set_result(None)  # the `subscribed` reply
            elif opcode == 1:
                self.recorder.frame(payload)
            elif opcode == 8:
                self.recorder.closed += 1

    def send(self, payload: bytes) -> None:
        mask = os.urandom(4)
        masked = bytes(byte ^ mask[n % 4] for n, byte in enumerate(payload))
        self.transport.write(bytes([0x81, 0x80 | len(payload)]) + mask + masked)


async def open_client(url: str, channel: str, recorder: Recorder) -> Client:
    parts = urlsplit(url)
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()
    _, client = await loop.create_connection(
        lambda: Client(recorder, channel, ready), parts.hostname, parts.port
    )
    key = base64.b64encode(os.urandom(16)).decode()
    client.transport.write(
        (
            f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    await asyncio.wait_for(ready, 30)
    return client


async def main(url: str, first: int, count: int, pattern: str) -> None:
    recorder = Recorder()
    limit = asyncio.Semaphore(50)

    async def one(index: int) -> Client:
        async with limit:
            return await open_client(url, pattern.format(index), recorder)

    clients = await asyncio.gather(*(one(first + n) for n in range(count)))
    print(json.dumps({"connected": len(clients)}), flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.readline)  # "go": measurement starts
    recorder.latencies.clear()
    recorder.received = 0
    await loop.run_in_executor(None, sys.stdin.read)  # EOF: stop
    result = {
        "latencies": recorder.latencies,
        "received": recorder.received,
        "last": recorder.last,
        "closed": recorder.closed,
    }
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]))
