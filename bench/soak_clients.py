"""Soak clients, run in their own process: N WebSocket clients, each on `tasks` and on one
streaming `task:{k}`, that record what they receive so the soak can count every event.

    python -m bench.soak_clients URL FIRST COUNT STREAMS
        stdout: {"connected": n}; stdin EOF stops; stdout: JSON results

Per client: the `n` of every `task_output` of its task channel, the number of `task_status`
frames on `tasks`, every `subscribed` after the first (reconnect notices, with `recovered`),
and the close code if the server closed it.
"""

from __future__ import annotations

import asyncio
import json
import os
import struct
import sys
import time
from typing import Any

import bench.realtime_clients
from bench.realtime_clients import Client, open_client


class Counter:
    """What one client received (the frame parser of `bench.realtime_clients` calls `frame`)."""

    def __init__(self) -> None:
        self.outputs: list[int] = []
        self.statuses = 0
        self.notices: list[bool] = []
        self.closed = 0
        self.close_code: int | None = None
        self.close_at = 0.0
        self.latencies: list[float] = []  # unused: the parser's interface
        self.received = 0
        self.last = 0.0

    def frame(self, payload: bytes) -> None:
        event: dict[str, Any] = json.loads(payload)
        kind = event.get("type")
        if kind == "task_output":
            self.outputs.append(int(event["output"]))
        elif kind == "task_status":
            self.statuses += 1
        elif kind == "subscribed":
            self.notices.append(bool(event.get("recovered")))


class SoakClient(Client):
    """The benchmark client, answering the server's keepalive pings (a soak outlasts uvicorn's
    20 s + 20 s ping timeout) and noting the close code and when it came."""

    def data_received(self, data: bytes) -> None:
        if not self.upgraded:
            super().data_received(data)  # the handshake, then frames as the parent reads them
            return
        self.buffer += data
        counter = self.recorder
        assert isinstance(counter, Counter)
        while len(self.buffer) >= 2:
            length, offset = self.buffer[1] & 0x7F, 2
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
                self.ready.set_result(None)
            elif opcode == 1:
                counter.frame(payload)
            elif opcode == 9:
                self.control(0xA, payload)  # pong
            elif opcode == 8:
                counter.closed += 1
                counter.close_at = time.monotonic()
                counter.close_code = int.from_bytes(payload[:2], "big") if payload else 1005

    def control(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        masked = bytes(byte ^ mask[n % 4] for n, byte in enumerate(payload))
        self.transport.write(bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked)


async def main(url: str, first: int, count: int, streams: int) -> None:
    bench.realtime_clients.Client = SoakClient  # type: ignore[misc]
    counters = [Counter() for _ in range(count)]
    limit = asyncio.Semaphore(50)

    async def one(index: int) -> Client:
        counter = counters[index]
        async with limit:
            client = await open_client(url, "tasks", counter)  # type: ignore[arg-type]
            # The parser treats the first text frame as `subscribed`; the second subscription's
            # reply arrives through `frame` and is not a reconnect notice.
            client.send(
                json.dumps(
                    {"type": "subscribe", "channel": f"task:soak-{(first + index) % streams}"}
                ).encode()
            )
            return client

    clients = await asyncio.gather(*(one(n) for n in range(count)))
    print(json.dumps({"connected": len(clients)}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # EOF: stop
    results = [
        {
            "stream": (first + n) % streams,
            "outputs": counter.outputs,
            "statuses": counter.statuses,
            "notices": counter.notices[1:],  # the first is the task channel's own reply
            "closed": counter.closed,
            "close_code": counter.close_code,
            "close_at": counter.close_at,
        }
        for n, counter in enumerate(counters)
    ]
    print(json.dumps(results), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])))
