"""Data-plane fixtures: an upstream OpenAI mocked with respx, bundles on it and on fake/."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest
import respx

UPSTREAM = "http://upstream.invalid/v1"
PINNED = "openai/gpt-4o-2024-11-20"


@pytest.fixture
def upstream() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=UPSTREAM, assert_all_called=False) as router:
        yield router


def completion(content: str = "Hello from upstream", **extra: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-up-1",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "gpt-4o-2024-11-20",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {"prompt_tokens": 11, "completion_tokens": 4, "total_tokens": 15},
        **extra,
    }


def sse_body(chunks: list[dict[str, Any]]) -> bytes:
    return b"".join(b"data: " + orjson.dumps(c) + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"


def chunk(delta: dict[str, Any], finish: str | None = None, usage: Any = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-up-2",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": "gpt-4o-2024-11-20",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
        **({"usage": usage} if usage is not None else {}),
    }


def openai_spec(name: str = "support-chat", **overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "name": name,
        "model": PINNED,
        "params": {"temperature": 0.2},
        "client_params": ["user", "seed", "max_tokens", "n", "stop"],
        "prompt": {"system": "You help {{ customer_name }}."},
        "variables_schema": {
            "type": "object",
            "properties": {"customer_name": {"type": "string"}},
            "required": ["customer_name"],
        },
        "timeout_s": 5,
    }
    spec.update(overrides)
    return spec
