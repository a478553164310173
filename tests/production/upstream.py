"""A slow OpenAI-compatible upstream on loopback: one SSE chunk every ``delay_s``.

It runs in a thread of the test process (uvicorn, no signal handlers there),
so a gateway subprocess can stream from it while the test signals the gateway.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.production.procs import free_port

MODEL = "gpt-4o-2024-11-20"


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-slow",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": MODEL,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }


class SlowUpstream:
    def __init__(self, words: int = 8, delay_s: float = 0.25) -> None:
        self.words = [f"w{i} " for i in range(words)]
        self.delay_s = delay_s
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.streams_finished = 0
        app = Starlette(routes=[Route("/v1/chat/completions", self._chat, methods=["POST"])])
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    @property
    def text(self) -> str:
        return "".join(self.words)

    async def _chat(self, request: Request) -> Response:
        body = await request.json()
        if not body.get("stream"):
            return JSONResponse(
                {
                    "id": "chatcmpl-slow",
                    "object": "chat.completion",
                    "created": 1_700_000_000,
                    "model": MODEL,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": self.text},
                            "finish_reason": "stop",
                            "logprobs": None,
                        }
                    ],
                    "usage": self._usage(),
                }
            )
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        return StreamingResponse(self._events(include_usage), media_type="text/event-stream")

    def _usage(self) -> dict[str, int]:
        return {
            "prompt_tokens": 5,
            "completion_tokens": len(self.words),
            "total_tokens": 5 + len(self.words),
        }

    async def _events(self, include_usage: bool) -> AsyncIterator[bytes]:
        yield _sse(_chunk({"role": "assistant", "content": ""}))
        for word in self.words:
            await asyncio.sleep(self.delay_s)
            yield _sse(_chunk({"content": word}))
        yield _sse(_chunk({}, "stop"))
        if include_usage:
            yield _sse({**_chunk({}), "choices": [], "usage": self._usage()})
        yield b"data: [DONE]\n\n"
        self.streams_finished += 1

    def __enter__(self) -> SlowUpstream:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise AssertionError("the slow upstream did not start")
            time.sleep(0.02)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._server.should_exit = True
        self._thread.join(10)


def _sse(payload: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"
