"""ProviderClient: routing, retries through real provider code, streams."""

from __future__ import annotations

import httpx
import pytest
import respx

from app.errors import GatewayTimeoutError, ProviderError, RateLimitError
from app.providers.client import ProviderClient
from app.providers.fake import FakeProvider
from app.providers.interface import Attempt, EmbeddingCall, Provider, ProviderCall
from app.settings import Settings
from tests.providers.conftest import chunk, completion_body, error, sse

USER = [{"role": "user", "content": "hello"}]
URL = "http://upstream.test/v1/chat/completions"


def client(upstream: Provider | None = None, transport: str = "direct") -> ProviderClient:
    return ProviderClient(
        max_attempts=3,
        backoff_base_s=0.0,
        backoff_max_s=0.0,
        openai_transport=transport,
        upstream=upstream,
    )


@pytest.fixture(params=["direct", "litellm"])
def transport(request: pytest.FixtureRequest) -> str:
    """Retries and streams behave the same over both ways of reaching an OpenAI upstream."""
    value: str = request.param
    return value


def upstream_call(**params: object) -> ProviderCall:
    return ProviderCall(model="openai/gpt-4o-mini", messages=USER, params=dict(params), timeout_s=5)


def test_from_settings_and_routing() -> None:
    settings = Settings(
        provider_max_attempts=5, provider_backoff_base_s=0.1, provider_backoff_max_s=2.0
    )
    built = ProviderClient.from_settings(settings)
    assert (built.policy.max_attempts, built.policy.backoff_base_s) == (5, 0.1)
    assert built.policy.backoff_max_s == 2.0
    assert ProviderClient.is_fake("fake/echo")
    assert not ProviderClient.is_fake("openai/gpt-4o")
    assert isinstance(built.provider_for("fake/anything"), FakeProvider)


async def test_503_twice_then_success(upstream: respx.MockRouter, transport: str) -> None:
    upstream.post(URL).mock(
        side_effect=[
            error(503, "overloaded"),
            error(503, "overloaded"),
            httpx.Response(200, json=completion_body()),
        ]
    )
    attempts: list[Attempt] = []
    result = await client(transport=transport).complete(upstream_call(), attempts)
    assert result["choices"][0]["message"]["content"] == "Hello there"
    assert [(a.ok, a.status) for a in attempts] == [(False, 503), (False, 503), (True, 200)]
    assert all(a.model == "openai/gpt-4o-mini" for a in attempts)


async def test_exhausted_429_keeps_retry_after(upstream: respx.MockRouter, transport: str) -> None:
    route = upstream.post(URL).mock(return_value=error(429, "slow down", **{"retry-after": "0"}))
    attempts: list[Attempt] = []
    with pytest.raises(RateLimitError) as info:
        await client(transport=transport).complete(upstream_call(), attempts)
    assert info.value.retry_after == 0
    assert route.call_count == 3
    assert len(attempts) == 3


async def test_stream_retried_before_first_chunk(
    upstream: respx.MockRouter, transport: str
) -> None:
    events = [
        chunk(0, {"role": "assistant", "content": ""}),
        chunk(0, {"content": "Hi"}),
        chunk(0, {}, "stop"),
    ]
    upstream.post(URL).mock(side_effect=[error(503, "overloaded"), sse(events)])
    attempts: list[Attempt] = []
    stream = await client(transport=transport).open_stream(upstream_call(), attempts)
    assert [a.ok for a in attempts] == [False, True]
    assert [c async for c in stream] == events


async def test_stream_error_after_first_chunk_is_not_retried(
    upstream: respx.MockRouter, transport: str
) -> None:
    route = upstream.post(URL).mock(
        return_value=sse(
            [chunk(0, {"role": "assistant", "content": ""})],
            tail='data: {"error": {"message": "died", "type": "server_error"}}\n\n',
        )
    )
    attempts: list[Attempt] = []
    stream = await client(transport=transport).open_stream(upstream_call(), attempts)
    with pytest.raises(ProviderError, match="died"):
        async for _ in stream:
            pass
    assert route.call_count == 1
    assert [a.ok for a in attempts] == [True]


async def test_fake_failures_and_deadline() -> None:
    attempts: list[Attempt] = []
    with pytest.raises(ProviderError):
        await client().complete(ProviderCall(model="fake/error-503", messages=USER), attempts)
    assert len(attempts) == 3
    attempts.clear()
    slow = ProviderCall(model="fake/slow-2000", messages=USER, timeout_s=0.2)
    with pytest.raises(GatewayTimeoutError):
        await client().complete(slow, attempts)
    assert len(attempts) == 1
    attempts.clear()
    with pytest.raises(GatewayTimeoutError):
        await client().open_stream(slow, attempts)
    assert attempts[0].status == 504


async def test_fake_stream_and_embed() -> None:
    attempts: list[Attempt] = []
    call = ProviderCall(model="fake/echo", messages=USER)
    stream = await client().open_stream(call, attempts)
    first = await anext(stream)
    assert first["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    await stream.aclose()  # type: ignore[attr-defined]  # an async generator
    result = await client().embed(EmbeddingCall(model="fake/e", input="x"), attempts)
    assert result["object"] == "list"
    assert [a.ok for a in attempts] == [True, True]


async def test_injected_upstream_provider() -> None:
    """The pipeline's own tests can swap litellm out entirely."""
    attempts: list[Attempt] = []
    stub = client(upstream=FakeProvider())
    result = await stub.complete(upstream_call(), attempts)
    assert result["model"] == "openai/gpt-4o-mini"
