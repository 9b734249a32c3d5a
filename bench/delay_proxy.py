#!/usr/bin/env python3
"""A TCP proxy on 127.0.0.1 that holds every chunk DELAY ms in each direction, in order.

This kernel has no netem, so the pull benchmark adds latency this way: each chunk read from
one side is written to the other DELAY ms after it arrived (25 ms each way: a 50 ms round
trip). Throughput is not limited, only latency, and order is kept per direction.

Usage: delay_proxy.py LISTEN_PORT TARGET_PORT [DELAY_MS]

Prints "ready" on stdout once listening. Stops by itself when its parent goes away or after
MAX_LIFETIME seconds, so a crashed benchmark leaves nothing behind.
Stdlib only.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time

MAX_LIFETIME = 4 * 3600


async def pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def receive() -> None:
        try:
            while True:
                data = await reader.read(65536)
                await queue.put((time.monotonic() + delay, data))
                if not data:
                    return
        except (ConnectionError, OSError):
            await queue.put((time.monotonic() + delay, b""))

    async def send() -> None:
        try:
            while True:
                due, data = await queue.get()
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not data:
                    if writer.can_write_eof():
                        writer.write_eof()
                    return
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass

    await asyncio.gather(receive(), send())


async def main() -> None:
    listen_port, target_port = int(sys.argv[1]), int(sys.argv[2])
    delay = (float(sys.argv[3]) if len(sys.argv) > 3 else 25.0) / 1000.0

    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.open_connection("127.0.0.1", target_port)
        except OSError:
            client_w.close()
            return
        try:
            await asyncio.gather(pump(client_r, server_w, delay), pump(server_r, client_w, delay))
        finally:
            for w in (client_w, server_w):
                w.close()

    server = await asyncio.start_server(handle, "127.0.0.1", listen_port, backlog=1024)
    print("ready", flush=True)
    parent = os.getppid()
    started = time.monotonic()
    async with server:
        # An orphan is re-parented: that is the signal to stop.
        while os.getppid() == parent and time.monotonic() - started < MAX_LIFETIME:
            await asyncio.sleep(1)


if __name__ == "__main__":
    asyncio.run(main())
