"""A loopback upstream whose every byte a test scripts: for the HTTP/1.1 client's edge cases.

Real servers never send a malformed head, a 1xx before the answer or a body
cut short on demand; this one does exactly what the test's script writes.
The script runs once per accepted connection and reads requests with
``Connection.request()``; the server counts connections and requests.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field

import orjson


@dataclass
class Connection:
    """One accepted connection, as the script sees it."""

    index: int  # 0 for the first connection the server accepted
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    upstream: RawUpstream

    async def request(self) -> bytes | None:
        """The next whole request (head and Content-Length body), or None once the client left."""
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            return None
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        request = head + await self.reader.readexactly(length)
        self.upstream.requests.append((self.index, request))
        return request

    async def send(self, *pieces: bytes, pause_s: float = 0.0) -> None:
        """Write ``pieces`` in order, each flushed, ``pause_s`` apart."""
        for number, piece in enumerate(pieces):
            if number and pause_s:
                await asyncio.sleep(pause_s)
            self.writer.write(piece)
            await self.writer.drain()

    async def close(self) -> None:
        self.writer.close()
        with suppress(ConnectionError):
            await self.writer.wait_closed()


Script = Callable[[Connection], Awaitable[None]]


@dataclass
class RawUpstream:
    base: str = ""
    connections: int = 0
    requests: list[tuple[int, bytes]] = field(default_factory=list)  # (connection index, bytes)


@asynccontextmanager
async def raw_upstream(script: Script) -> AsyncIterator[RawUpstream]:
    """Serve ``script`` on 127.0.0.1; yields the server's counters and its base URL."""
    upstream = RawUpstream()
    tasks: set[asyncio.Task[None]] = set()

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = Connection(upstream.connections, reader, writer, upstream)
        upstream.connections += 1
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        try:
            await script(connection)
        except asyncio.CancelledError:
            pass  # the server is shutting down (below): a script still waiting just ends
        finally:
            tasks.discard(task)
            writer.close()

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    upstream.base = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1"
    try:
        yield upstream
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await server.wait_closed()


def answering(reply: bytes, *, close: bool = False) -> Script:
    """A script answering every request with ``reply``, hanging up after it if ``close``."""

    async def script(connection: Connection) -> None:
        while await connection.request() is not None:
            await connection.send(reply)
            if close:
                await connection.close()
                return

    return script


def answer(body: bytes, *head: bytes, status: bytes = b"200 OK") -> bytes:
    """A whole HTTP/1.1 answer with a Content-Length (and any extra header lines)."""
    lines = [b"HTTP/1.1 " + status, b"content-length: " + str(len(body)).encode(), *head]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def completion(content: str = "hello") -> bytes:
    """An OpenAI chat.completion as JSON bytes."""
    return orjson.dumps(
        {
            "id": "chatcmpl-raw",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": "m",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }
    )


def sse_events(words: list[str], *, done: bool = True) -> list[bytes]:
    """OpenAI chat.completion.chunk events, one per word, the last one finishing."""
    events = []
    for number, word in enumerate(words):
        last = number == len(words) - 1
        chunk = {
            "id": "chatcmpl-raw",
            "object": "chat.completion.chunk",
            "created": 1_700_000_000,
            "model": "m",
            "choices": [
                {"index": 0, "delta": {"content": word}, "finish_reason": "stop" if last else None}
            ],
        }
        events.append(b"data: " + orjson.dumps(chunk) + b"\n\n")
    if done:
        events.append(b"data: [DONE]\n\n")
    return events
