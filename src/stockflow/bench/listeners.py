"""Where the ``events`` bench's events arrive: a webhook endpoint, or a NATS subscriber.

Each runs in a process of its own, so that receiving costs neither the server
nor the load generator any time: ``python -m stockflow.bench.listeners
webhooks`` or ``... nats <url> <subjects>``. The first line it prints is the
port it listens on (0 for NATS) once it is ready; when its standard input
closes it prints, for every event id it got, ``<id> <unix time of the first
arrival>``, one per line, and exits.
"""

from __future__ import annotations

import asyncio
import sys
import time

_MSG_ID = "Nats-Msg-Id"


class Arrivals:
    """The first arrival time of every event id."""

    def __init__(self) -> None:
        self.first: dict[str, float] = {}

    def note(self, event_id: str) -> None:
        """Record an arrival (a repeat keeps the first time)."""
        self.first.setdefault(event_id, time.time())

    def dump(self) -> str:
        """One ``<id> <time>`` line per event."""
        return "".join(f"{k} {t:.6f}\n" for k, t in self.first.items())


async def _endpoint(arrivals: Arrivals) -> asyncio.Server:
    """An HTTP/1.1 endpoint on 127.0.0.1 answering every POST 204, keep-alive."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length, event_id = 0, ""
                for line in head.decode("latin-1").split("\r\n")[1:]:
                    name, _, value = line.partition(":")
                    name = name.strip().lower()
                    if name == "content-length":
                        length = int(value)
                    elif name == "webhook-id":
                        event_id = value.strip()
                await reader.readexactly(length)
                arrivals.note(event_id)
                writer.write(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(serve, "127.0.0.1", 0)


async def _until_stdin_closes() -> None:
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


async def webhooks() -> None:
    """Listen for webhook requests until standard input closes."""
    arrivals = Arrivals()
    server = await _endpoint(arrivals)
    print(server.sockets[0].getsockname()[1], flush=True)
    await _until_stdin_closes()
    server.close()
    sys.stdout.write(arrivals.dump())


async def nats_subscriber(url: str, subjects: str) -> None:
    """Subscribe to ``subjects`` (core NATS: as published) until standard input closes."""
    import nats
    from nats.aio.msg import Msg

    arrivals = Arrivals()

    async def got(msg: Msg) -> None:
        arrivals.note((msg.headers or {}).get(_MSG_ID, ""))

    client = await nats.connect(url)
    await client.subscribe(subjects, cb=got, pending_msgs_limit=1_000_000)
    await client.flush()
    print(0, flush=True)
    await _until_stdin_closes()
    await client.drain()
    sys.stdout.write(arrivals.dump())


def main(argv: list[str]) -> None:
    """``webhooks`` or ``nats <url> <subjects>``."""
    if argv[:1] == ["webhooks"]:
        asyncio.run(webhooks())
    elif argv[:1] == ["nats"] and len(argv) == 3:
        asyncio.run(nats_subscriber(argv[1], argv[2]))
    else:
        raise SystemExit("usage: listeners webhooks | listeners nats <url> <subjects>")


if __name__ == "__main__":
    main(sys.argv[1:])
