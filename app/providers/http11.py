"""One HTTP/1.1 keep-alive connection to an upstream, parsed by httptools.

httpcore's own HTTP/1.1 connection runs the pure-Python h11 state machine
and wraps every step in trace hooks and anyio locks: about half of the CPU
of an upstream call. The direct client only sends JSON POSTs and reads
JSON or SSE answers, so this connection does just that, with llhttp (the
C parser uvicorn uses, through httptools): the request goes out in one
write, the answer is parsed as it arrives, and the connection goes back to
its pool (``upstream_pool.ConnectionPool``) when the body has been read.

What it accepts of RFC 9112: bodies framed by Content-Length, by chunked
coding (extensions and trailers read and ignored) or by the server closing
the connection; 1xx interim answers skipped; ``Connection: close`` and
HTTP/1.0 answers end the connection's reuse; a ``Keep-Alive: timeout=N``
shortens its idle life. What it refuses, as ``httpcore.RemoteProtocolError``:
a malformed status line, header, or chunk size, a head past 64 KiB, a body
cut short, an upgrade, and an answer in a transfer or content coding it did
not ask for (``UndecodableAnswer``: it sends ``Accept-Encoding: identity``
and decodes nothing).
"""

from __future__ import annotations

import enum
import ssl
import time
from collections.abc import AsyncIterator, Callable

import httpcore
import httptools

_READ_SIZE = 64 * 1024
_MAX_HEAD = 64 * 1024  # status line and headers (1xx answers included)


class _State(enum.Enum):
    NEW = 0
    ACTIVE = 1
    IDLE = 2
    CLOSED = 3


class UndecodableAnswer(httpcore.RemoteProtocolError):
    """An answer in a coding the gateway neither asked for nor decodes: a retry gets the same."""


class _Parsed:
    """httptools callbacks for one response: the final head, body pieces, completion."""

    __slots__ = (
        "body",
        "complete",
        "head_bytes",
        "headers",
        "headers_done",
        "idle_timeout",
        "interim",
        "keep_alive",
        "parser",
        "refusal",
        "trailers",
        "until_close",
    )

    def __init__(self) -> None:
        self.headers: list[tuple[bytes, bytes]] = []
        self.trailers: list[tuple[bytes, bytes]] = []
        self.headers_done = False
        self.interim = False  # inside a 1xx answer, skipped
        self.head_bytes = 0  # read before the final head was complete
        self.body: list[bytes] = []
        self.complete = False
        self.keep_alive = False
        self.until_close = False  # no Content-Length, no Transfer-Encoding: the body ends at EOF
        self.idle_timeout: float | None = None  # the server's Keep-Alive: timeout=N
        self.refusal: str | None = None  # why the answer cannot be read, once the head is in
        self.parser = httptools.HttpResponseParser(self)

    def on_message_begin(self) -> None:
        if self.complete:
            self.keep_alive = False  # bytes after the answer: never reuse this connection

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self.complete:
            (self.trailers if self.headers_done else self.headers).append((name, value))

    def on_headers_complete(self) -> None:
        if self.complete:
            return
        status = self.parser.get_status_code()
        if 100 <= status < 200 and status != 101:
            self.interim, self.headers = True, []  # 100 Continue, 103 Early Hints: skipped
            return
        self.headers_done = True
        self._frame()

    def on_body(self, body: bytes) -> None:
        if not self.complete:
            self.body.append(body)

    def on_message_complete(self) -> None:
        if self.interim:
            self.interim = False
        elif not self.complete:
            self.complete = True
            self.keep_alive = self.parser.should_keep_alive()  # valid only in this callback

    def end_of_stream(self) -> None:
        """The server closed the connection: the end of a close-delimited body, else an error."""
        if self.headers_done and self.until_close and not self.complete:
            self.complete, self.keep_alive = True, False
            return
        if not self.head_bytes:
            raise httpcore.RemoteProtocolError(
                "the upstream closed the connection without answering"
            )
        raise httpcore.RemoteProtocolError("the upstream closed the connection mid-response")

    def _frame(self) -> None:
        """How the body is delimited, and whether it is in a coding this client reads."""
        framed = False
        for name, value in self.headers:
            name = name.lower()
            if name == b"content-length":
                framed = True
            elif name == b"transfer-encoding":
                framed = True
                if value.strip().lower() != b"chunked":
                    self.refusal = f"Transfer-Encoding: {value.decode('latin-1')}"
            elif name == b"content-encoding":
                if value.strip().lower() not in (b"", b"identity"):
                    self.refusal = f"Content-Encoding: {value.decode('latin-1')}"
            elif name == b"keep-alive":
                self.idle_timeout = _keep_alive_timeout(value)
        self.until_close = not framed


def _keep_alive_timeout(value: bytes) -> float | None:
    for part in value.split(b","):
        key, _, number = part.partition(b"=")
        if key.strip().lower() == b"timeout":
            try:
                return max(0.0, float(number.strip()))
            except ValueError:
                return None
    return None


class HTTP11Connection(httpcore.AsyncConnectionInterface):
    """Connects on its first request; serves one request at a time; kept alive while idle."""

    def __init__(
        self,
        origin: httpcore.Origin,
        *,
        network_backend: httpcore.AsyncNetworkBackend,
        ssl_context: ssl.SSLContext,
        keepalive_expiry: float | None,
        on_release: Callable[[HTTP11Connection], None] | None = None,
    ) -> None:
        self._origin = origin
        self._on_release = on_release  # told when an exchange ends (idle again, or closed)
        self._backend = network_backend
        self._ssl_context = ssl_context
        self._keepalive_expiry = keepalive_expiry
        self._stream: httpcore.AsyncNetworkStream | None = None
        self._state = _State.NEW
        self._expire_at: float | None = None
        self._requests = 0

    # -- what httpcore's pool asks ------------------------------------------------------

    def can_handle_request(self, origin: httpcore.Origin) -> bool:
        return origin == self._origin

    def is_available(self) -> bool:
        return self._state is _State.IDLE

    def is_idle(self) -> bool:
        return self._state is _State.IDLE

    def is_closed(self) -> bool:
        return self._state is _State.CLOSED

    def has_expired(self) -> bool:
        if self._state is not _State.IDLE or self._stream is None:
            return False
        if self._expire_at is not None and time.monotonic() > self._expire_at:
            return True
        # Readable while idle: the server closed it (or sent garbage).
        return bool(self._stream.get_extra_info("is_readable"))

    def info(self) -> str:
        return f"{self._origin!r}, HTTP/1.1 (httptools), {self._state.name}, {self._requests}"

    async def aclose(self) -> None:
        self._state = _State.CLOSED
        if self._stream is not None:
            await self._stream.aclose()

    # -- one exchange ---------------------------------------------------------------------

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        if self._state is _State.NEW:
            self._state = _State.ACTIVE
            try:
                self._stream = await self._connect(request)
            except BaseException:
                self._state = _State.CLOSED
                raise
        elif self._state is _State.IDLE:
            assert self._stream is not None
            if self._stream.get_extra_info("is_readable"):
                # The upstream closed it while idle (the pool's check came too early, or a
                # waiter was handed it): nothing was sent, so the pool may use a fresh one.
                await self.aclose()
                raise httpcore.ConnectionNotAvailable()
            self._state = _State.ACTIVE
        else:
            raise httpcore.ConnectionNotAvailable()
        self._requests += 1
        self._expire_at = None
        stream = self._stream
        assert stream is not None
        timeouts = request.extensions.get("timeout", {})
        parsed = _Parsed()
        try:
            await stream.write(await _serialise(request), timeouts.get("write"))
            while not parsed.headers_done:
                await self._feed(parsed, timeouts.get("read"))
            if parsed.refusal is not None:
                raise UndecodableAnswer(
                    f"the upstream answered with {parsed.refusal}, which the gateway "
                    "did not ask for (it sends Accept-Encoding: identity) and does not decode"
                )
        except BaseException:
            await self.aclose()
            raise
        return httpcore.Response(
            status=parsed.parser.get_status_code(),
            headers=parsed.headers,
            content=_Body(self, parsed, timeouts.get("read")),
            extensions={"http_version": b"HTTP/1.1", "network_stream": stream},
        )

    async def _connect(self, request: httpcore.Request) -> httpcore.AsyncNetworkStream:
        timeout = request.extensions.get("timeout", {}).get("connect")
        host = self._origin.host.decode("ascii")
        stream = await self._backend.connect_tcp(host, self._origin.port, timeout=timeout)
        if self._origin.scheme == b"https":
            stream = await stream.start_tls(
                self._ssl_context, server_hostname=host, timeout=timeout
            )
        return stream

    async def _feed(self, parsed: _Parsed, timeout: float | None) -> None:
        assert self._stream is not None
        data = await self._stream.read(_READ_SIZE, timeout)
        if not data:
            parsed.end_of_stream()
            return
        if not parsed.headers_done:
            parsed.head_bytes += len(data)
        try:
            parsed.parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            raise httpcore.RemoteProtocolError("unexpected protocol upgrade") from exc
        except httptools.HttpParserError as exc:
            if not parsed.complete:
                raise httpcore.RemoteProtocolError(f"malformed HTTP response: {exc}") from exc
            parsed.keep_alive = False  # garbage after a whole answer: the answer stands
        if not parsed.headers_done and parsed.head_bytes > _MAX_HEAD:
            raise httpcore.RemoteProtocolError(
                f"the upstream's response head is over {_MAX_HEAD // 1024} KiB"
            )

    async def _release(self, parsed: _Parsed) -> None:
        """Back to the pool if the answer was read to its end and may be reused; else close."""
        if (
            parsed.complete
            and parsed.keep_alive
            and self._state is _State.ACTIVE
            and self._stream is not None
            and not self._stream.get_extra_info("is_readable")
        ):
            self._state = _State.IDLE
            expiry = self._keepalive_expiry
            if parsed.idle_timeout is not None:
                # A second less than the server keeps it: it must not close under a request.
                server = max(0.0, parsed.idle_timeout - 1.0)
                expiry = server if expiry is None else min(expiry, server)
            if expiry is not None:
                self._expire_at = time.monotonic() + expiry
        else:
            await self.aclose()
        if self._on_release is not None:
            self._on_release(self)


class _Body:
    """The response body: parsed as it is read; the connection is released on close."""

    def __init__(self, connection: HTTP11Connection, parsed: _Parsed, timeout: float | None):
        self._connection = connection
        self._parsed = parsed
        self._timeout = timeout
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        parsed = self._parsed
        while True:
            if parsed.body:
                pieces, parsed.body = parsed.body, []
                yield pieces[0] if len(pieces) == 1 else b"".join(pieces)
            if parsed.complete:
                return
            await self._connection._feed(parsed, self._timeout)

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            await self._connection._release(self._parsed)


async def _serialise(request: httpcore.Request) -> bytes:
    """Request line, headers and body in one buffer (bodies here are small JSON)."""
    lines = [request.method + b" " + request.url.target + b" HTTP/1.1"]
    for name, value in request.headers:
        if b"\r" in value or b"\n" in value or b":" in name:
            raise httpcore.LocalProtocolError(f"invalid header {name!r}")
        lines.append(name + b": " + value)
    body = b"".join([piece async for piece in request.stream])  # type: ignore[union-attr]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body
