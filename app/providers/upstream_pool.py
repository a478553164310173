"""Pooled HTTP/1.1 keep-alive connections to one upstream base URL, cheap per request.

The connections are httptools-parsed (``http11``) on the asyncio network
backend, without httpx's client layer or httpcore's pool. Measured on the
benchmark machine, one loopback call cost ~580 µs of CPU through
``httpx.AsyncClient``, ~225 µs through httpcore's own HTTP/1.1 connection,
~100 µs with this connection inside httpcore's pool; that pool then still
cost ~50 µs a call (it scans every connection on every request and wraps
each exchange in anyio events and cancel shields), where ``ConnectionPool``
pops an idle connection off a stack.

The interface stays httpcore's (``handle_async_request(httpcore.Request)``),
so respx mocks this pool in tests like any httpcore transport
(``tests/conftest.py`` registers it). Proxies come from ``HTTPS_PROXY`` /
``HTTP_PROXY`` / ``NO_PROXY`` (through httpcore's proxy pool) and CA
certificates from ``SSL_CERT_FILE`` (else certifi), as httpx would read them.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import urllib.request
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit

import certifi
import httpcore

from app.providers.asyncio_backend import AsyncioBackend
from app.providers.http11 import HTTP11Connection


class _Transport(Protocol):
    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response: ...

    async def aclose(self) -> None: ...


class ConnectionPool:
    """Up to ``max_connections`` keep-alive connections to one origin, last used first.

    Last-used-first keeps the busy few warm and lets the rest expire: the
    oldest idle connection is checked on every acquire and closed once past
    ``keepalive_expiry`` (or closed by the server). Past the limit, callers
    queue in order, for at most the request's ``pool`` timeout.
    """

    def __init__(
        self,
        origin: httpcore.Origin,
        *,
        ssl_context: ssl.SSLContext,
        keepalive_expiry: float,
        max_connections: int,
        network_backend: httpcore.AsyncNetworkBackend,
    ) -> None:
        self.origin = origin
        self.max_connections = max_connections
        self._ssl_context = ssl_context
        self._keepalive_expiry = keepalive_expiry
        self._backend = network_backend
        self._idle: deque[HTTP11Connection] = deque()  # right end: most recently used
        self._open = 0  # connections counted against the limit (idle, busy or connecting)
        # A waiter gets an idle connection, or None: a free slot to connect in.
        self._waiters: deque[asyncio.Future[HTTP11Connection | None]] = deque()
        self._closed = False
        self._closing: set[asyncio.Task[None]] = set()

    @property
    def connections(self) -> int:
        return self._open

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        if request.url.origin != self.origin:
            raise httpcore.UnsupportedProtocol(f"this pool serves {self.origin}, not {request.url}")
        connection = await self._acquire(request.extensions.get("timeout", {}).get("pool"))
        try:
            try:
                return await connection.handle_async_request(request)
            except httpcore.ConnectionNotAvailable:
                # Found closed by the upstream before a byte of the request left: once
                # more on a fresh connection, in the same slot. Never after sending: the
                # upstream may have acted on the request.
                connection = self._connection()
                return await connection.handle_async_request(request)
        except BaseException:
            await connection.aclose()  # usually closed already: the exchange failed
            self._release(connection)
            raise

    async def aclose(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, deque()
        for connection in idle:
            self._open -= 1
            await connection.aclose()

    async def _acquire(self, timeout: float | None) -> HTTP11Connection:
        if self._closed:
            raise httpcore.ConnectError("the connection pool is closed")
        await self._expire_oldest()
        while self._idle:
            connection = self._idle.pop()
            if not connection.has_expired():
                return connection
            self._open -= 1
            await connection.aclose()
        if self._open < self.max_connections:
            self._open += 1
            return self._connection()
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(timeout):
                handed = await waiter
        except BaseException as exc:
            if waiter.done() and not waiter.cancelled():
                self._hand_on(waiter.result())  # handed over as we gave up: pass it on
            else:
                waiter.cancel()
            if isinstance(exc, TimeoutError):
                raise httpcore.PoolTimeout("no upstream connection became free in time") from exc
            raise
        return handed if handed is not None else self._connection()

    def _connection(self) -> HTTP11Connection:
        return HTTP11Connection(
            self.origin,
            network_backend=self._backend,
            ssl_context=self._ssl_context,
            keepalive_expiry=self._keepalive_expiry,
            on_release=self._release,
        )

    def _release(self, connection: HTTP11Connection) -> None:
        """A connection's exchange ended: reuse it, or free its slot if it closed."""
        if connection.is_idle():
            if not self._closed:
                self._hand_on(connection)
                return
            closing = asyncio.get_running_loop().create_task(connection.aclose())
            self._closing.add(closing)  # the pool closed during the exchange
            closing.add_done_callback(self._closing.discard)
        self._open -= 1
        if self._waiters:
            self._open += 1
            self._hand_on(None)

    def _hand_on(self, handed: HTTP11Connection | None) -> None:
        """To the first caller still waiting; else an idle connection joins the stack."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(handed)
                return
        if handed is not None:
            self._idle.append(handed)
        else:
            self._open -= 1  # a free slot nobody wants

    async def _expire_oldest(self) -> None:
        if self._idle and self._idle[0].has_expired():
            connection = self._idle.popleft()
            self._open -= 1
            await connection.aclose()


@dataclass(frozen=True, slots=True)
class Reply:
    """A whole upstream answer."""

    status: int
    headers: dict[str, str]
    content: bytes


@dataclass(slots=True)
class UpstreamPool:
    """Connections to one base URL (scheme, host, port and path prefix)."""

    base: str
    max_connections: int = 512
    keepalive_expiry_s: float = 30.0
    _transport: _Transport | None = None
    _urls: dict[str, httpcore.URL] = field(default_factory=dict)
    _host: bytes = b""

    def __post_init__(self) -> None:
        self.base = self.base.rstrip("/")
        self._host = urlsplit(self.base).netloc.rsplit("@", 1)[-1].encode("ascii")

    async def post(
        self, path: str, body: bytes, headers: list[tuple[bytes, bytes]], timeout_s: float
    ) -> Reply:
        """POST ``body`` to ``base + path`` and read the whole answer."""
        async with self.stream(path, body, headers, timeout_s) as response:
            content = await response.aread()
        return Reply(response.status, decode_headers(response.headers), content)

    @asynccontextmanager
    async def stream(
        self, path: str, body: bytes, headers: list[tuple[bytes, bytes]], timeout_s: float
    ) -> AsyncIterator[httpcore.Response]:
        """POST and yield the response with its body unread (``aiter_stream()``)."""
        transport = self._transport or self._open_transport()
        request = httpcore.Request(
            b"POST",
            self._url(path),
            headers=[
                (b"host", self._host),
                (b"content-length", str(len(body)).encode()),
                (b"accept-encoding", b"identity"),  # http11 decodes no content coding
                *headers,
            ],
            content=body,
            extensions={
                "timeout": {
                    "connect": timeout_s,
                    "read": timeout_s,
                    "write": timeout_s,
                    "pool": timeout_s,
                }
            },
        )
        response = await transport.handle_async_request(request)
        try:
            yield response
        finally:
            await response.aclose()

    async def aclose(self) -> None:
        transport, self._transport = self._transport, None
        if transport is not None:
            await transport.aclose()

    def _url(self, path: str) -> httpcore.URL:
        url = self._urls.get(path)
        if url is None:
            url = self._urls[path] = httpcore.URL(self.base + path)
        return url

    def _open_transport(self) -> _Transport:
        proxy = _proxy_for(self.base)
        # Loading the CA bundle costs ~10 ms: once per base URL.
        context = _ssl_context()
        transport: _Transport
        if proxy:
            transport = httpcore.AsyncConnectionPool(
                ssl_context=context,
                proxy=httpcore.Proxy(proxy),
                max_connections=self.max_connections,
                keepalive_expiry=self.keepalive_expiry_s,
            )
        else:
            transport = ConnectionPool(
                httpcore.URL(self.base).origin,
                ssl_context=context,
                keepalive_expiry=self.keepalive_expiry_s,
                max_connections=self.max_connections,
                network_backend=AsyncioBackend(),
            )
        self._transport = transport
        return transport


def decode_headers(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in raw}


def _ssl_context() -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=os.environ.get("SSL_CERT_FILE") or certifi.where())
    context.set_alpn_protocols(["http/1.1"])
    return context


def _proxy_for(base: str) -> str | None:
    parts = urlsplit(base)
    proxies = urllib.request.getproxies_environment()
    if not proxies or urllib.request.proxy_bypass_environment(parts.hostname or "", proxies):  # type: ignore[attr-defined]
        return None
    return proxies.get(parts.scheme)
