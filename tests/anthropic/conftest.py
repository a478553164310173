"""Anthropic-ingress fixtures: the official Anthropic SDK over ASGI, mocked upstreams.

The Anthropic SDK is built on ``httpx2``, so its ASGI client comes from there;
litellm's upstream calls still go through ``httpx``, which respx intercepts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import anthropic
import httpx
import httpx2
import pytest
import respx

from tests.conftest import BASE, fake_spec, push, set_alias
from tests.gateway.conftest import UPSTREAM

ANTHROPIC_UPSTREAM = "http://anthropic.invalid"
CLAUDE = "anthropic/claude-3-5-sonnet-20241022"
VARS = {"variables": {"customer_name": "Ada"}}


@pytest.fixture
async def claude(app: Any) -> AsyncIterator[anthropic.AsyncAnthropic]:
    http = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app))
    client = anthropic.AsyncAnthropic(
        base_url=BASE, api_key="unused-in-local-mode", http_client=http, max_retries=0
    )
    yield client
    await client.close()


@pytest.fixture
def upstream() -> Iterator[respx.MockRouter]:
    """The OpenAI upstream (``OPENAI_BASE_URL`` points here in tests/conftest.py)."""
    with respx.mock(base_url=UPSTREAM, assert_all_called=False) as router:
        yield router


@pytest.fixture
def anthropic_upstream(monkeypatch: pytest.MonkeyPatch) -> Iterator[respx.MockRouter]:
    """A mocked Anthropic API, reached by litellm for ``anthropic/`` bundles."""
    monkeypatch.setenv("ANTHROPIC_BASE_URL", ANTHROPIC_UPSTREAM)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-not-a-real-key")
    with respx.mock(base_url=ANTHROPIC_UPSTREAM, assert_all_called=False) as router:
        yield router


async def support_chat(admin: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    """The fake-provider ``support-chat`` bundle, live in dev."""
    bundle = await push(admin, fake_spec(**overrides))
    await set_alias(admin, "dev", "support-chat", f"support-chat@{bundle['version']}")
    return bundle


def anthropic_message(text: str = "Hello from Claude", **extra: Any) -> dict[str, Any]:
    """What the real Anthropic API answers to a non-streaming Messages call."""
    return {
        "id": "msg_up_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-3-5-sonnet-20241022",
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 12, "output_tokens": 4},
        **extra,
    }
