"""Benchmark clients, run in their own process: N WebSocket clients that subscribe, then record
publish-to-receive latency (the publisher stamps `t` with time.monotonic(), shared by every
process on the machine) until told to stop.

    python -m bench.realtime_clients URL FIRST COUNT CHANNEL_PATTERN
        stdin: a line "go" once connected is reported, EOF to stop; stdout: JSON results
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from websockets.asyncio.client import ClientConnection, connect


async def client(
    url: str, channel: str, latencies: list[float], stats: dict[str, float]
) -> ClientConnection:
    socket = await connect(url, compression=None, max_queue=None, ping_interval=None)
    await socket.send(json.dumps({"type": "subscribe", "channel": channel}))
    json.loads(await socket.recv())

    async def read() -> None:
        loads, monotonic = json.loads, time.monotonic
        async for message in socket:
            now = monotonic()
            event = loads(message)
            stamp = event.get("t")
            if stamp is not None:
                latencies.append(now - stamp)
                stats["received"] += 1
                stats["last"] = now

    asyncio.get_running_loop().create_task(read())
    return socket


async def main(url: str, first: int, count: int, pattern: str) -> None:
    latencies: list[float] = []
    stats = {"received": 0.0, "last": 0.0}
    limit = asyncio.Semaphore(50)

    async def open_one(index: int) -> ClientConnection:
        async with limit:
            return await client(url, pattern.format(index), latencies, stats)

    sockets = await asyncio.gather(*(open_one(first + n) for n in range(count)))
    print(json.dumps({"connected": len(sockets)}), flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.readline)  # "go": measurement starts
    latencies.clear()
    stats["received"] = 0
    await loop.run_in_executor(None, sys.stdin.read)  # EOF: stop
    closed = sum(1 for socket in sockets if socket.close_code is not None)
    print(
        json.dumps({"latencies": latencies, **stats, "closed": closed}),
        flush=True,
    )


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]))
