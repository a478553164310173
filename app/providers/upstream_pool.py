"""Pooled HTTP/1.1 keep-alive connections to one upstream base URL, cheap per request.

Built on httpcore's pool (httpx's transport layer) with the asyncio network
backend and the httptools connection, without httpx's client layer: measured
on the benchmark machine, one loopback call costs ~580 µs of CPU through
``httpx.AsyncClient``, ~225 µs through httpcore's own HTTP/1.1 connection on
this backend, ~100 µs here. respx mocks httpcore's pool, so tests that mock an
upstream with respx still see every call.

httpcore's pool scans all of its connections (quadratically for idle ones)
on every request, so one base URL gets several small pools ("shards") and each
request goes to the least busy one. Proxies come from ``HTTPS_PROXY`` /
``HTTP_PROXY`` / ``NO_PROXY`` and CA certificates from ``SSL_CERT_FILE`` (else
certifi), as httpx would read them.
"""

from __future__ import annotations

import os
import ssl
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import certifi
import httpcore

from app.providers.asyncio_backend import AsyncioBackend
from app.providers.http11 import HTTP11Connection

SHARD_SIZE = 16


class _Pool(httpcore.AsyncConnectionPool):
    """httpcore's pool with the httptools connection (proxied origins keep httpcore's)."""

    def __init__(
        self,
        *,
        ssl_context: ssl.SSLContext,
        keepalive_expiry: float,
        proxy: httpcore.Proxy | None,
        network_backend: httpcore.AsyncNetworkBackend,
        **kw: Any,
    ) -> None:
        super().__init__(
            ssl_context=ssl_context,
            keepalive_expiry=keepalive_expiry,
            proxy=proxy,
            network_backend=network_backend,
            **kw,
        )
        self._pinyard = (ssl_context, keepalive_expiry, proxy, network_backend)

    def create_connection(self, origin: httpcore.Origin) -> httpcore.AsyncConnectionInterface:
        ssl_context, keepalive_expiry, proxy, backend = self._pinyard
        if proxy is not None:
            return super().create_connection(origin)
        return HTTP11Connection(
            origin,
            network_backend=backend,
            ssl_context=ssl_context,
            keepalive_expiry=keepalive_expiry,
        )


@dataclass(slots=True)
class _Shard:
    pool: _Pool
    in_flight: int = 0


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
    _shards: list[_Shard] = field(default_factory=list)
    _urls: dict[str, httpcore.URL] = field(default_factory=dict)
    _host: bytes = b""
    _ssl: ssl.SSLContext | None = None  # built once, for https bases only

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
        shard = self._shard()
        request = httpcore.Request(
            b"POST",
            self._url(path),
            headers=[
                (b"host", self._host),
                (b"content-length", str(len(body)).encode()),
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
        shard.in_flight += 1
        try:
            response = await shard.pool.handle_async_request(request)
            try:
                yield response
            finally:
                await response.aclose()
        finally:
            shard.in_flight -= 1

    async def aclose(self) -> None:
        shards, self._shards = self._shards, []
        for shard in shards:
            await shard.pool.aclose()

    def _url(self, path: str) -> httpcore.URL:
        url = self._urls.get(path)
        if url is None:
            url = self._urls[path] = httpcore.URL(self.base + path)
        return url

    def _shard(self) -> _Shard:
        best: _Shard | None = None
        for shard in self._shards:
            if shard.in_flight < SHARD_SIZE:
                return shard
            if best is None or shard.in_flight < best.in_flight:
                best = shard
        if best is None or len(self._shards) * SHARD_SIZE < self.max_connections:
            best = _Shard(self._new_pool())
            self._shards.append(best)
        return best

    def _new_pool(self) -> _Pool:
        proxy = _proxy_for(self.base)
        if self._ssl is None:
            # Loading the CA bundle costs ~10 ms: once per base URL, not per shard.
            self._ssl = _ssl_context()
        return _Pool(
            ssl_context=self._ssl,
            proxy=httpcore.Proxy(proxy) if proxy else None,
            max_connections=SHARD_SIZE,
            max_keepalive_connections=SHARD_SIZE,
            keepalive_expiry=self.keepalive_expiry_s,
            http1=True,
            http2=False,
            network_backend=AsyncioBackend(),
        )


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
