"""A fake OpenAI-compatible upstream, fast enough never to be what a benchmark measures.

A bare asyncio protocol (uvloop and httptools when installed) answers
``POST /v1/chat/completions`` with pre-serialised bytes: one JSON completion,
or an SSE stream (role chunk, content chunks, finish chunk, the usage chunk
when ``stream_options.include_usage`` is set, ``[DONE]``) sent with chunked
transfer encoding, one HTTP chunk per event, the way OpenAI sends it. An
optional fixed delay before the first byte stands in for model latency.
HTTP/1.1 keep-alive, no pipelining (load drivers never pipeline).

Run it alone with ``python -m bench.upstream --port 9100 --delay-ms 0``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from dataclasses import dataclass

import httptools
import orjson

MODEL = "gpt-4o-2024-11-20"
WORDS = ("Hello", " from", " the", " fake", " upstream", ":", " all", " good.")
USAGE = {"prompt_tokens": 12, "completion_tokens": len(WORDS), "total_tokens": 12 + len(WORDS)}


def _completion() -> bytes:
    return orjson.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": MODEL,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "".join(WORDS), "refusal": None},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": USAGE,
            "system_fingerprint": "fp_bench",
        }
    )


def _chunk(delta: dict[str, object], finish: str | None = None) -> dict[str, object]:
    return {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": MODEL,
        "system_fingerprint": "fp_bench",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }


def _http_chunk(payload: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(payload), payload)


def _sse(include_usage: bool) -> bytes:
    events = [_chunk({"role": "assistant", "content": "", "refusal": None})]
    events += [_chunk({"content": word}) for word in WORDS]
    events.append(_chunk({}, "stop"))
    if include_usage:
        events = [{**e, "usage": None} for e in events]
        events.append({**_chunk({}), "choices": [], "usage": USAGE})
    body = b"".join(_http_chunk(b"data: " + orjson.dumps(e) + b"\n\n") for e in events)
    return body + _http_chunk(b"data: [DONE]\n\n") + b"0\r\n\r\n"


def _response(status: str, content_type: bytes, body: bytes, *, chunked: bool) -> bytes:
    length = b"transfer-encoding: chunked" if chunked else b"content-length: %d" % len(body)
    head = b"HTTP/1.1 %s\r\ncontent-type: %s\r\n%s\r\n\r\n" % (
        status.encode(),
        content_type,
        length,
    )
    return head + body


@dataclass(frozen=True, slots=True)
class Answers:
    """Every response this upstream can send, serialised once."""

    completion: bytes = _response("200 OK", b"application/json", _completion(), chunked=False)
    stream: bytes = _response("200 OK", b"text/event-stream", _sse(False), chunked=True)
    stream_usage: bytes = _response("200 OK", b"text/event-stream", _sse(True), chunked=True)
    models: bytes = _response(
        "200 OK",
        b"application/json",
        orjson.dumps({"object": "list", "data": [{"id": MODEL, "object": "model"}]}),
        chunked=False,
    )
    not_found: bytes = _response(
        "404 Not Found",
        b"application/json",
        b'{"error":{"message":"not found","type":"invalid_request_error"}}',
        chunked=False,
    )


class _Connection(asyncio.Protocol):
    def __init__(self, answers: Answers, delay_s: float) -> None:
        self.answers = answers
        self.delay_s = delay_s
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.url = b""
        self.body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self.transport is not None:
                self.transport.close()

    def on_message_begin(self) -> None:
        self.url = b""
        self.body = []

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        answer = self._answer(self.parser.get_method(), self.url, b"".join(self.body))
        keep_alive = self.parser.should_keep_alive()
        if self.delay_s > 0:
            asyncio.get_running_loop().call_later(self.delay_s, self._send, answer, keep_alive)
        else:
            self._send(answer, keep_alive)

    def _answer(self, method: bytes, url: bytes, body: bytes) -> bytes:
        path = url.split(b"?", 1)[0]
        if method == b"POST" and path.endswith(b"/chat/completions"):
            try:
                request = orjson.loads(body)
            except orjson.JSONDecodeError:
                return self.answers.not_found
            if isinstance(request, dict) and request.get("stream") is True:
                options = request.get("stream_options") or {}
                usage = isinstance(options, dict) and bool(options.get("include_usage"))
                return self.answers.stream_usage if usage else self.answers.stream
            return self.answers.completion
        if method == b"GET" and path.endswith(b"/models"):
            return self.answers.models
        return self.answers.not_found

    def _send(self, answer: bytes, keep_alive: bool) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        self.transport.write(answer)
        if not keep_alive:
            self.transport.close()


async def serve(host: str, port: int, delay_ms: float, *, max_seconds: float) -> None:
    """Serve until SIGTERM/SIGINT or ``max_seconds`` (a bench never leaves it running)."""
    loop = asyncio.get_running_loop()
    answers = Answers()
    server = await loop.create_server(
        lambda: _Connection(answers, delay_ms / 1000), host, port, backlog=1024
    )
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"fake upstream on http://{host}:{port}/v1 (delay {delay_ms:g} ms)", flush=True)
    async with server:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), max_seconds)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--delay-ms", type=float, default=0.0)
    parser.add_argument("--max-seconds", type=float, default=3600.0)
    args = parser.parse_args(argv)
    if not args.host.startswith("127.") and args.host not in ("localhost", "::1"):
        parser.error("the fake upstream listens on loopback only")
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(args.host, args.port, args.delay_ms, max_seconds=args.max_seconds))
    else:
        uvloop.run(serve(args.host, args.port, args.delay_ms, max_seconds=args.max_seconds))


if __name__ == "__main__":
    main()
