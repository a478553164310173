"""The bundled load driver: keep-alive HTTP/1.1 POSTs at a fixed concurrency, in asyncio.

Used when wrk is not installed, and always for streaming time-to-first-byte
(wrk only sees whole responses). Each of ``concurrency`` connections sends
one request at a time and waits for the whole answer; every request loop
stops at ``max_requests`` or ``duration_s``, whichever comes first. Latency is
measured from the first byte written to the last byte read; time-to-first-
byte to the first byte of the body (the first SSE event of a stream).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import httptools

from bench.stats import Run, summarise


@dataclass(slots=True)
class _Exchange:
    """Parser callbacks for one response on one connection."""

    started: float = 0.0
    first_body: float | None = None
    done: asyncio.Future[None] | None = None
    status: int = 0
    parser: Any = None

    def on_body(self, body: bytes) -> None:
        if self.first_body is None:
            self.first_body = time.perf_counter()

    def on_message_complete(self) -> None:
        self.status = self.parser.get_status_code()
        if self.done is not None and not self.done.done():
            self.done.set_result(None)


class _Client(asyncio.Protocol):
    def __init__(self) -> None:
        self.exchange = _Exchange()
        self.exchange.parser = httptools.HttpResponseParser(self.exchange)
        self.transport: asyncio.Transport | None = None
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self.exchange.parser.feed_data(data)
        except httptools.HttpParserError:
            if self.transport is not None:
                self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(None)
        done = self.exchange.done
        if done is not None and not done.done():
            done.set_exception(ConnectionError("connection lost"))


@dataclass(slots=True)
class _Tally:
    latencies_us: list[float] = field(default_factory=list)
    ttfb_us: list[float] = field(default_factory=list)
    errors: int = 0


def request_bytes(host: str, port: int, path: str, body: bytes) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nhost: {host}:{port}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\n\r\n"
    ).encode() + body


async def _connection(
    host: str, port: int, payload: bytes, deadline: float, budget: list[int], tally: _Tally
) -> None:
    loop = asyncio.get_running_loop()
    client: _Client | None = None
    while budget[0] > 0 and time.perf_counter() < deadline:
        if client is None or client.transport is None or client.transport.is_closing():
            try:
                _, client = await loop.create_connection(_Client, host, port)
            except OSError:
                tally.errors += 1
                await asyncio.sleep(0.01)
                continue
        budget[0] -= 1
        exchange = client.exchange
        exchange.first_body = None
        exchange.done = loop.create_future()
        exchange.started = time.perf_counter()
        assert client.transport is not None
        client.transport.write(payload)
        try:
            async with asyncio.timeout(max(0.1, deadline - time.perf_counter() + 10)):
                await exchange.done
        except (TimeoutError, ConnectionError):
            tally.errors += 1
            if client.transport is not None:
                client.transport.close()
            client = None
            continue
        end = time.perf_counter()
        if exchange.status >= 400:
            tally.errors += 1
            continue
        tally.latencies_us.append((end - exchange.started) * 1e6)
        if exchange.first_body is not None:
            tally.ttfb_us.append((exchange.first_body - exchange.started) * 1e6)
    if client is not None and client.transport is not None:
        client.transport.close()


async def drive(
    url: str,
    body: bytes,
    *,
    concurrency: int,
    duration_s: float,
    max_requests: int,
) -> Run:
    """Load ``url`` (``http://127.0.0.1:PORT/path``) and summarise what came back."""
    host, port, path = split_url(url)
    payload = request_bytes(host, port, path, body)
    tally = _Tally()
    budget = [max_requests]
    started = time.perf_counter()
    deadline = started + duration_s
    await asyncio.gather(
        *(_connection(host, port, payload, deadline, budget, tally) for _ in range(concurrency))
    )
    elapsed = time.perf_counter() - started
    return summarise(
        tally.latencies_us,
        errors=tally.errors,
        elapsed_s=elapsed,
        concurrency=concurrency,
        ttfb_us=tally.ttfb_us,
        tool="python",
    )


def split_url(url: str) -> tuple[str, int, str]:
    rest = url.removeprefix("http://")
    hostport, _, path = rest.partition("/")
    host, _, port = hostport.partition(":")
    if not host.startswith("127.") and host != "localhost":
        raise ValueError(f"the load driver only targets loopback, not {host}")
    return host, int(port or 80), "/" + path


def run_driver(
    url: str, body: bytes, *, concurrency: int, duration_s: float, max_requests: int
) -> Run:
    """Blocking wrapper, on uvloop when installed."""
    coro = drive(
        url, body, concurrency=concurrency, duration_s=duration_s, max_requests=max_requests
    )
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)
