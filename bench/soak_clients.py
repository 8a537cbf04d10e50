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
    """The benchmark client, also noting the close code and when it came."""

    def data_received(self, data: bytes) -> None:
        counter = self.recorder
        closed_before = counter.closed
        super().data_received(data)
        if counter.closed != closed_before and isinstance(counter, Counter):
            counter.close_at = time.monotonic()
            # The close frame's payload starts with the code; the parser dropped it, so the
            # code is read from the data that carried it.
            at = data.rfind(b"\x88")
            if at >= 0 and len(data) >= at + 4:
                counter.close_code = int.from_bytes(data[at + 2 : at + 4], "big")


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
