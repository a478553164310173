"""OpenAIDirectProvider against a respx-mocked upstream: the litellm path's contract, kept."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from openai.types import CreateEmbeddingResponse
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from app.errors import (
    BadRequestError,
    GatewayTimeoutError,
    PinyardError,
    ProviderError,
    RateLimitError,
)
from app.providers.client import ProviderClient
from app.providers.interface import EmbeddingCall, ProviderCall
from app.providers.litellm_provider import LiteLLMProvider
from app.providers.openai_direct import OpenAIDirectProvider
from app.providers.providers_file import ProvidersFileError, load_providers_file
from tests.providers.conftest import UPSTREAM_KEY, chunk, completion_body, error, sse

MODEL = "openai/gpt-4o-mini"
URL = "http://upstream.test/v1/chat/completions"
USER = [{"role": "user", "content": "hello"}]


def call(model: str = MODEL, **params: Any) -> ProviderCall:
    return ProviderCall(model=model, messages=USER, params=params, timeout_s=5)


def sent(route: respx.Route, index: int = -1) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(route.calls[index].request.content)
    return body


async def test_complete_posts_the_call_and_returns_the_upstream_json(
    upstream: respx.MockRouter,
) -> None:
    route = upstream.post(URL).respond(json=completion_body())
    result = await OpenAIDirectProvider().complete(
        call(temperature=0.2, seed=7, stream=True, stream_options={"include_usage": True})
    )
    assert sent(route) == {"model": "gpt-4o-mini", "messages": USER, "temperature": 0.2, "seed": 7}
    request = route.calls.last.request
    assert request.headers["authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert request.headers["content-type"] == "application/json"
    assert result == completion_body()
    ChatCompletion.model_validate(result)


async def test_stream_relays_every_chunk(upstream: respx.MockRouter) -> None:
    events = [
        chunk(0, {"role": "assistant", "content": ""}),
        chunk(0, {"content": "Hi"}),
        chunk(0, {}, "stop"),
        chunk(usage={"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}, choices=False),
    ]
    route = upstream.post(URL).mock(return_value=sse(events))
    received = [c async for c in OpenAIDirectProvider().stream(call(stream_options={"a": 1}))]
    assert received == events
    assert sent(route)["stream"] is True and sent(route)["stream_options"] == {"a": 1}
    for item in received:
        ChatCompletionChunk.model_validate(item)


async def test_stream_error_event_and_cut_short(upstream: respx.MockRouter) -> None:
    route = upstream.post(URL)
    route.mock(
        return_value=sse(
            [chunk(0, {"content": "Hel"})],
            tail='data: {"error": {"message": "server blew up", "type": "server_error"}}\n\n',
        )
    )
    seen = []
    with pytest.raises(ProviderError, match="server blew up"):
        async for item in OpenAIDirectProvider().stream(call()):
            seen.append(item)
    assert len(seen) == 1
    route.mock(return_value=sse([chunk(0, {"content": "Hi"})], done=False))
    with pytest.raises(ProviderError, match="finish_reason") as cut:
        async for _ in OpenAIDirectProvider().stream(call()):
            pass
    assert cut.value.retryable


@pytest.mark.parametrize(
    ("response", "kind", "code", "retryable"),
    [
        (error(429, "Rate limit reached", **{"retry-after": "7"}), RateLimitError, None, True),
        (error(500, "boom"), ProviderError, "provider_error", True),
        (httpx.Response(502, text="<html>bad gateway</html>"), ProviderError, None, True),
        (error(400, "bad 'temperature'", code="invalid_value"), BadRequestError, None, False),
        (error(401, "Incorrect API key provided: sk-up****-key"), ProviderError, None, False),
        (error(403, "Project lacks access"), ProviderError, "provider_auth_error", False),
        (error(404, "The model does not exist"), ProviderError, None, False),
    ],
)
async def test_errors_map_like_the_litellm_path(
    upstream: respx.MockRouter,
    response: httpx.Response,
    kind: type[PinyardError],
    code: str | None,
    retryable: bool,
) -> None:
    route = upstream.post(URL).mock(return_value=response)
    errors = []
    for provider in (OpenAIDirectProvider(), LiteLLMProvider()):
        with pytest.raises(kind) as info:
            await provider.complete(call())
        errors.append(info.value)
    direct, through_litellm = errors
    assert route.call_count == 2
    assert type(direct) is type(through_litellm) is kind
    assert direct.retryable is retryable
    assert (direct.code, direct.upstream_status) == (
        through_litellm.code,
        through_litellm.upstream_status,
    )
    if code:
        assert direct.code == code
    if isinstance(direct, RateLimitError):
        assert direct.retry_after == 7 and direct.headers["Retry-After"] == "7"
    if response.status_code == 400:
        assert (direct.message, direct.code) == ("bad 'temperature'", "invalid_value")
    if response.status_code in (401, 403):
        assert "sk-" not in direct.message


async def test_stream_status_errors_connection_and_timeouts(upstream: respx.MockRouter) -> None:
    route = upstream.post(URL)
    provider = OpenAIDirectProvider()
    route.mock(return_value=error(429, "slow down", **{"retry-after-ms": "1500"}))
    with pytest.raises(RateLimitError) as limited:
        async for _ in provider.stream(call()):
            pass
    assert limited.value.retry_after == 1.5
    route.mock(
        return_value=error(400, "This model's maximum context length is 8192 tokens", code=None)
    )
    with pytest.raises(BadRequestError) as too_long:
        await provider.complete(call())
    assert too_long.value.code == "context_length_exceeded"
    route.mock(side_effect=httpx.ConnectError("connection refused"))
    with pytest.raises(ProviderError) as unreachable:
        await provider.complete(call())
    assert unreachable.value.retryable and unreachable.value.upstream_status is None
    route.mock(side_effect=httpx.ReadTimeout("read timed out"))
    with pytest.raises(GatewayTimeoutError) as slow:
        await provider.complete(call())
    assert slow.value.retryable


async def test_credentials_params_and_reasoning_models(
    upstream: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    route = upstream.post(URL).respond(json=completion_body())
    provider = OpenAIDirectProvider()
    for name in ("api_base", "api_key", "base_url", "extra_headers", "mock_response"):
        with pytest.raises(BadRequestError) as refused:
            await provider.complete(call(**{name: "http://evil.test"}))
        assert refused.value.param == name
    assert route.call_count == 0
    await provider.complete(call("openai/o3-mini-2025-01-31", max_tokens=50))
    assert sent(route)["max_completion_tokens"] == 50 and "max_tokens" not in sent(route)
    monkeypatch.setenv("OPENAI_ORGANIZATION", "org-bench")
    await provider.complete(call(max_tokens=50))
    assert sent(route)["max_tokens"] == 50
    assert route.calls.last.request.headers["openai-organization"] == "org-bench"
    monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(ProviderError) as keyless:
        await provider.complete(call())
    assert keyless.value.code == "provider_auth_error"


async def test_providers_file_endpoints(
    upstream: respx.MockRouter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "providers.yaml"
    path.write_text(
        "providers:\n"
        "  openai: {api_base: 'http://other.test/v1', api_key_env: OTHER_KEY}\n"
        "  vllm: {api_base: 'http://vllm.test/v1', openai_compatible: true}\n"
    )
    endpoints = load_providers_file(path)
    other = upstream.post("http://other.test/v1/chat/completions").respond(json=completion_body())
    vllm = upstream.post("http://vllm.test/v1/chat/completions").respond(json=completion_body())
    provider = OpenAIDirectProvider(endpoints)
    monkeypatch.delenv("OTHER_KEY", raising=False)
    with pytest.raises(ProviderError) as missing:
        await provider.complete(call())
    assert missing.value.code == "provider_auth_error" and other.call_count == 0
    monkeypatch.setenv("OTHER_KEY", "sk-other")
    await provider.complete(call())
    assert other.calls.last.request.headers["authorization"] == "Bearer sk-other"
    assert provider.serves("vllm/meta-llama/Llama-3.1-8B") and not provider.serves("vllm")
    await provider.complete(call("vllm/meta-llama/Llama-3.1-8B"))
    assert sent(vllm)["model"] == "meta-llama/Llama-3.1-8B"
    assert "authorization" not in vllm.calls.last.request.headers
    bad = tmp_path / "bad.yaml"
    bad.write_text("providers: {vllm: {openai_compatible: true}}\n")
    with pytest.raises(ProvidersFileError):
        load_providers_file(bad)


async def test_embeddings(upstream: respx.MockRouter) -> None:
    body = {
        "object": "list",
        "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2]}],
        "model": "text-embedding-3-small",
        "usage": {"prompt_tokens": 2, "total_tokens": 2},
    }
    route = upstream.post("http://upstream.test/v1/embeddings").respond(json=body)
    result = await OpenAIDirectProvider().embed(
        EmbeddingCall(model="openai/text-embedding-3-small", input="ab", params={"dimensions": 2})
    )
    assert sent(route) == {"model": "text-embedding-3-small", "input": "ab", "dimensions": 2}
    assert result == body
    CreateEmbeddingResponse.model_validate(result)


def test_transport_setting_keeps_litellm_reachable() -> None:
    direct = ProviderClient()
    assert isinstance(direct.provider_for(MODEL), OpenAIDirectProvider)
    through_litellm = ProviderClient(openai_transport="litellm")
    assert isinstance(through_litellm.provider_for(MODEL), LiteLLMProvider)
    assert isinstance(direct.provider_for("anthropic/claude-3-5-haiku-20241022"), LiteLLMProvider)
