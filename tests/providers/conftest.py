"""Fixtures for provider tests: a respx-mocked OpenAI-compatible upstream, and a real one.

litellm talks through an aiohttp transport by default, which respx cannot
see; ``DISABLE_AIOHTTP_TRANSPORT`` switches it to plain httpx.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx

from bench.upstream import Answers, _Connection

UPSTREAM = "http://upstream.test/v1"
UPSTREAM_KEY = "sk-upstream-test-key"


@pytest.fixture
def upstream(monkeypatch: pytest.MonkeyPatch) -> Iterator[respx.MockRouter]:
    from app.providers.litellm_import import litellm

    monkeypatch.setenv("DISABLE_AIOHTTP_TRANSPORT", "True")
    monkeypatch.setattr(litellm, "disable_aiohttp_transport", True)
    monkeypatch.setenv("OPENAI_BASE_URL", UPSTREAM)
    monkeypatch.setenv("OPENAI_API_KEY", UPSTREAM_KEY)
    monkeypatch.delenv("OPENAI_API_BASE", raising=False)
    with respx.mock(assert_all_called=False) as router:
        yield router


def completion_body(
    content: str | None = "Hello there",
    *,
    tool_calls: list[dict[str, Any]] | None = None,
    finish_reason: str = "stop",
    model: str = "gpt-4o-mini-2024-07-18",
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {
        "id": "chatcmpl-upstream-1",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": model,
        "choices": [
            {"index": 0, "message": message, "finish_reason": finish_reason, "logprobs": None}
        ],
        "usage": {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12},
        "system_fingerprint": "fp_upstream",
    }


def chunk(
    index: int = 0,
    delta: dict[str, Any] | None = None,
    finish_reason: str | None = None,
    *,
    usage: dict[str, Any] | None = None,
    choices: bool = True,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "chatcmpl-upstream-s",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": "gpt-4o-mini-2024-07-18",
        "system_fingerprint": "fp_upstream",
        "choices": [],
        "usage": usage,
    }
    if choices:
        body["choices"] = [
            {"index": index, "delta": delta or {}, "finish_reason": finish_reason, "logprobs": None}
        ]
    return body


def sse(events: list[dict[str, Any]], *, done: bool = True, tail: str = "") -> httpx.Response:
    text = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + tail
    if done:
        text += "data: [DONE]\n\n"
    return httpx.Response(200, text=text, headers={"content-type": "text/event-stream"})


def error(status: int, message: str, *, code: str | None = None, **headers: str) -> httpx.Response:
    body = {
        "error": {"message": message, "type": "invalid_request_error", "param": None, "code": code}
    }
    return httpx.Response(status, json=body, headers=headers)


async def fake_upstream(delay_s: float = 0.0) -> tuple[asyncio.Server, str, list[_Connection]]:
    """The benchmark's fake upstream on loopback: the server, its base URL, its connections."""
    connections: list[_Connection] = []

    def factory() -> _Connection:
        connection = _Connection(Answers(), delay_s)
        connections.append(connection)
        return connection

    server = await asyncio.get_running_loop().create_server(factory, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}/v1", connections
