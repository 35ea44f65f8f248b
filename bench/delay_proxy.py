#!/usr/bin/env python3
"""TCP forwarder on 127.0.0.1 that delays every byte by a fixed time in each
direction, preserving order: a stand-in for a slow link (20 ms each way is a
40 ms round trip). Bandwidth is not limited; only latency is added.

Each chunk read from one side is stamped with its arrival time and written to
the other side no earlier than arrival + delay, in order. At most --buffer-mb
are held per direction (reading pauses beyond that), and the proxy stops by
itself after --max-seconds, or when its parent process goes away.

It prints the port it listens on as the first line of stdout.
"""

import argparse
import asyncio
import os
import sys
import time

CHUNK = 256 * 1024


async def pump(reader, writer, delay, limit_bytes):
    queue = asyncio.Queue()
    budget = asyncio.Semaphore(max(1, limit_bytes // CHUNK))

    async def read_side():
        try:
            while True:
                await budget.acquire()
                data = await reader.read(CHUNK)
                await queue.put((time.monotonic() + delay, data))
                if not data:
                    return
        except (ConnectionError, OSError):
            await queue.put((time.monotonic() + delay, b""))

    async def write_side():
        try:
            while True:
                due, data = await queue.get()
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                budget.release()
                if not data:
                    if writer.can_write_eof():
                        writer.write_eof()
                    return
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            return

    await asyncio.gather(read_side(), write_side())


async def handle(client_r, client_w, target, delay, limit):
    try:
        server_r, server_w = await asyncio.open_connection(*target)
    except OSError:
        client_w.close()
        return
    try:
        await asyncio.gather(
            pump(client_r, server_w, delay, limit),
            pump(server_r, client_w, delay, limit),
        )
    finally:
        for w in (client_w, server_w):
            w.close()


async def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target-port", type=int, required=True)
    ap.add_argument("--listen-port", type=int, default=0)
    ap.add_argument("--delay-ms", type=float, default=20.0, help="each way")
    ap.add_argument("--buffer-mb", type=int, default=16, help="per direction")
    ap.add_argument("--max-seconds", type=float, default=3600.0)
    args = ap.parse_args()

    delay = args.delay_ms / 1000.0
    target = ("127.0.0.1", args.target_port)
    limit = args.buffer_mb * 1024 * 1024
    server = await asyncio.start_server(
        lambda r, w: handle(r, w, target, delay, limit), "127.0.0.1", args.listen_port
    )
    port = server.sockets[0].getsockname()[1]
    print(port, flush=True)
    parent = os.getppid()
    deadline = time.monotonic() + args.max_seconds
    async with server:
        while time.monotonic() < deadline and os.getppid() == parent:
            await asyncio.sleep(0.5)
    print("delay proxy: stopping", file=sys.stderr)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
