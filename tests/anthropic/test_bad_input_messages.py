"""Malformed ``/v1/messages`` bodies: 400 in Anthropic's envelope, never a 5xx."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.anthropic.conftest import VARS, support_chat

HI = [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"max_tokens": 10**9}, "max_tokens"),
        ({"max_tokens": -5}, "max_tokens"),
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "system", "content": "x"}]}, "messages.0.role"),
        ({"temperature": "warm"}, "temperature"),
        ({"stop_sequences": [1]}, "stop_sequences"),
        ({"tools": "x"}, "tools"),
    ],
)
async def test_malformed_messages_bodies_are_400_in_anthropic_shape(
    admin: httpx.AsyncClient, fields: dict[str, Any], named: str
) -> None:
    await support_chat(admin)
    body = {"model": "support-chat", "max_tokens": 64, "messages": HI, **VARS, **fields}
    answer = await admin.post("/v1/messages", json=body)
    assert answer.status_code == 400, answer.text
    error = answer.json()
    assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error"
    assert named in error["error"]["message"]
    assert answer.headers["request-id"] == answer.headers["x-pinyard-request-id"]
