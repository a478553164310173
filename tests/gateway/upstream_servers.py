"""OpenAI-compatible upstreams on servers nobody here wrote: uvicorn, hypercorn, aiohttp, stdlib.

Each serves ``POST /v1/chat/completions`` (a JSON answer, or SSE when the body
says ``stream``) on loopback, over TLS when given a certificate, in a thread
with its own event loop, so the gateway's HTTP/1.1 client meets each server's
own framing: uvicorn and hypercorn (h11) and aiohttp chunk their streams,
``http.server`` answers HTTP/1.0-style and ends every body by closing.
The answer repeats the request's last message, so a test sees the round trip.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import os
import socket
import ssl
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

SERVERS = ("uvicorn", "hypercorn", "aiohttp", "http.server")
MODEL = "gpt-4o-2024-11-20"


@dataclass(frozen=True)
class Certificate:
    """A server certificate for 127.0.0.1 and the CA file that trusts it (``SSL_CERT_FILE``)."""

    cert_file: Path
    key_file: Path
    ca_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


def make_certificate(folder: Path) -> Certificate:
    import trustme

    authority = trustme.CA()
    issued = authority.issue_cert("127.0.0.1", "localhost")
    found = Certificate(folder / "server.pem", folder / "server.key", folder / "ca.pem")
    issued.cert_chain_pems[0].write_to_path(found.cert_file)
    issued.private_key_pem.write_to_path(found.key_file)
    authority.cert_pem.write_to_path(found.ca_file)
    return found


def reply_text(body: dict[str, Any], server: str) -> str:
    messages = body.get("messages") or [{}]
    return f"{server} heard: {messages[-1].get('content')}"


def completion(text: str) -> bytes:
    return orjson.dumps(
        {
            "id": "chatcmpl-interop",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": MODEL,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
            "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8},
        }
    )


def events(text: str, body: dict[str, Any]) -> list[bytes]:
    """The SSE events of a stream answering ``text`` word by word (and usage when asked)."""

    def event(choices: list[dict[str, Any]], **extra: Any) -> bytes:
        chunk = {
            "id": "chatcmpl-interop",
            "object": "chat.completion.chunk",
            "created": 1_700_000_000,
            "model": MODEL,
            "choices": choices,
            **extra,
        }
        return b"data: " + orjson.dumps(chunk) + b"\n\n"

    words = text.split(" ")
    out = [event([{"index": 0, "delta": {"role": "assistant", "content": ""}}])]
    for number, word in enumerate(words):
        piece = word if number == 0 else " " + word
        out.append(event([{"index": 0, "delta": {"content": piece}, "finish_reason": None}]))
    out.append(event([{"index": 0, "delta": {}, "finish_reason": "stop"}]))
    if (body.get("stream_options") or {}).get("include_usage"):
        usage = {
            "prompt_tokens": 5,
            "completion_tokens": len(words),
            "total_tokens": 5 + len(words),
        }
        out.append(event([], usage=usage))
    out.append(b"data: [DONE]\n\n")
    return out


# -- the ASGI app (uvicorn, hypercorn) ---------------------------------------------------

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def asgi_app(server: str) -> Callable[[dict[str, Any], Receive, Send], Awaitable[None]]:
    async def app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        raw = b""
        while True:
            message = await receive()
            raw += message.get("body", b"")
            if not message.get("more_body"):
                break
        body = orjson.loads(raw)
        text = reply_text(body, server)
        if not body.get("stream"):
            content = completion(text)
            headers = [(b"content-type", b"application/json")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": content})
            return
        headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for piece in events(text, body):  # no Content-Length: the server chunks it
            await send({"type": "http.response.body", "body": piece, "more_body": True})
            await asyncio.sleep(0.005)
        await send({"type": "http.response.body", "body": b""})

    return app


@contextlib.contextmanager
def _uvicorn(sock: socket.socket, certificate: Certificate | None) -> Iterator[None]:
    import uvicorn

    tls: dict[str, Any] = {}
    if certificate is not None:
        tls = {"ssl_certfile": str(certificate.cert_file), "ssl_keyfile": str(certificate.key_file)}
    config = uvicorn.Config(asgi_app("uvicorn"), log_level="warning", lifespan="on", **tls)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(10)


@contextlib.contextmanager
def _hypercorn(sock: socket.socket, certificate: Certificate | None) -> Iterator[None]:
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    config = Config()
    config.bind = [f"fd://{os.dup(sock.fileno())}"]  # hypercorn closes the one it is given
    config.loglevel = "WARNING"
    if certificate is not None:
        config.certfile, config.keyfile = str(certificate.cert_file), str(certificate.key_file)
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    def run() -> None:
        loop.run_until_complete(serve(asgi_app("hypercorn"), config, shutdown_trigger=stop.wait))  # type: ignore[arg-type]

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()


@contextlib.contextmanager
def _aiohttp(sock: socket.socket, certificate: Certificate | None) -> Iterator[None]:
    from aiohttp import web

    async def chat(request: web.Request) -> web.StreamResponse:
        body = await request.json(loads=orjson.loads)
        text = reply_text(body, "aiohttp")
        if not body.get("stream"):
            return web.Response(body=completion(text), content_type="application/json")
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        for piece in events(text, body):
            await response.write(piece)
            await asyncio.sleep(0.005)
        await response.write_eof()
        return response

    application = web.Application()
    application.router.add_post("/v1/chat/completions", chat)
    runner = web.AppRunner(application, access_log=None)
    loop = asyncio.new_event_loop()
    loop.run_until_complete(runner.setup())
    context = certificate.server_context() if certificate is not None else None
    loop.run_until_complete(web.SockSite(runner, sock, ssl_context=context).start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


class _Handler(http.server.BaseHTTPRequestHandler):
    """HTTP/1.0 answers (the module's default): no Content-Length, the body ends at close."""

    def do_POST(self) -> None:  # the name http.server calls
        body = orjson.loads(self.rfile.read(int(self.headers["content-length"])))
        text = reply_text(body, "http.server")
        self.send_response(200)
        if not body.get("stream"):
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(completion(text))
            return
        self.send_header("content-type", "text/event-stream")
        self.end_headers()
        for piece in events(text, body):
            self.wfile.write(piece)
            self.wfile.flush()

    def finish(self) -> None:
        super().finish()
        if isinstance(self.connection, ssl.SSLSocket):
            # A TLS close alert ends the body: without it a close-delimited body over
            # TLS may have been cut short (RFC 9112, section 9.8).
            with contextlib.suppress(OSError):
                self.connection.unwrap()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def _http_server(sock: socket.socket, certificate: Certificate | None) -> Iterator[None]:
    server = http.server.ThreadingHTTPServer(sock.getsockname(), _Handler, bind_and_activate=False)
    server.socket.close()
    server.socket = sock
    if certificate is not None:
        server.socket = certificate.server_context().wrap_socket(sock, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


_STARTERS = {
    "uvicorn": _uvicorn,
    "hypercorn": _hypercorn,
    "aiohttp": _aiohttp,
    "http.server": _http_server,
}


@contextlib.asynccontextmanager
async def serving(server: str, certificate: Certificate | None = None) -> AsyncIterator[str]:
    """Run ``server`` on a fresh loopback port; yields the base URL (``.../v1``)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    scheme = "https" if certificate is not None else "http"
    base = f"{scheme}://127.0.0.1:{sock.getsockname()[1]}/v1"
    starter = _STARTERS[server]
    # Starting and stopping block (threads joined): off the test's event loop.
    stack = contextlib.ExitStack()
    await asyncio.to_thread(stack.enter_context, starter(sock, certificate))
    try:
        yield base
    finally:
        await asyncio.to_thread(stack.close)
        sock.close()
