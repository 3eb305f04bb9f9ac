"""A fast webhook receiver in a process of its own, for measuring how fast webhooks go out.

Run as ``python webhook_sink.py``: it listens on 127.0.0.1 (a free port,
printed as the first line of standard output), answers every POST 204 over
keep-alive connections, and when its standard input closes prints the
``webhook-id`` of every request it got, one per line, then exits.
"""

from __future__ import annotations

import asyncio
import sys

received: list[str] = []


async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length, webhook_id = 0, ""
            for line in head.decode("latin-1").split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.lower() == "content-length":
                    length = int(value)
                elif name.lower() == "webhook-id":
                    webhook_id = value.strip()
            await reader.readexactly(length)
            received.append(webhook_id)
            writer.write(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main() -> None:
    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    print(port, flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # until the parent closes it
    server.close()
    print("\n".join(received), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
