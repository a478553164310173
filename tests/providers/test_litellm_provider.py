"""LiteLLMProvider against a respx-mocked OpenAI-compatible upstream."""

from __future__ import annotations

import json
import sys
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
from app.providers.interface import EmbeddingCall, ProviderCall
from app.providers.litellm_provider import LiteLLMProvider
from app.providers.providers_file import (
    ProviderEndpoint,
    ProvidersFileError,
    load_providers_file,
)
from tests.providers.conftest import UPSTREAM_KEY, chunk, completion_body, error, sse

MODEL = "openai/gpt-4o-mini"
USER = [{"role": "user", "content": "What's the weather in Paris?"}]
WEATHER: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def call(messages: list[dict[str, Any]] | None = None, **params: Any) -> ProviderCall:
    return ProviderCall(model=MODEL, messages=messages or USER, params=params, timeout_s=5)


def sent(route: respx.Route, index: int = -1) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(route.calls[index].request.content)
    return body


def keys_anywhere(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys_anywhere(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys_anywhere(v)}
    return set()


async def test_complete_sends_params_and_returns_openai_dict(upstream: respx.MockRouter) -> None:
    route = upstream.post("http://upstream.test/v1/chat/completions").respond(
        json=completion_body()
    )
    result = await LiteLLMProvider().complete(call(temperature=0.2, seed=7, n=1, user="u-1"))

    body = sent(route)
    assert body == {
        "model": "gpt-4o-mini",
        "messages": USER,
        "temperature": 0.2,
        "seed": 7,
        "n": 1,
        "user": "u-1",
    }
    request = route.calls.last.request
    assert request.headers["authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert request.headers["x-stainless-retry-count"] == "0"

    parsed = ChatCompletion.model_validate(result)
    assert parsed.id == "chatcmpl-upstream-1"
    assert parsed.model == "gpt-4o-mini-2024-07-18"  # the upstream's, not the alias
    assert parsed.created == 1_700_000_000
    assert parsed.choices[0].message.content == "Hello there"
    assert result["choices"][0]["message"]["refusal"] is None
    assert result["choices"][0]["logprobs"] is None
    assert result["usage"] == {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12}
    assert "provider_specific_fields" not in keys_anywhere(result)
    json.dumps(result)


async def test_stream_options_dropped_for_non_streaming(upstream: respx.MockRouter) -> None:
    route = upstream.post("http://upstream.test/v1/chat/completions").respond(
        json=completion_body()
    )
    await LiteLLMProvider().complete(call(stream=True, stream_options={"include_usage": True}))
    assert "stream" not in sent(route)
    assert "stream_options" not in sent(route)


async def test_tool_call_round_trip(upstream: respx.MockRouter) -> None:
    """Tools go through litellm (which imports mcp on that path) and back."""
    tool_call = {
        "id": "call_abc",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
    }
    route = upstream.post("http://upstream.test/v1/chat/completions")
    route.side_effect = [
        httpx.Response(
            200,
            json=completion_body(None, tool_calls=[tool_call], finish_reason="tool_calls"),
        ),
        httpx.Response(200, json=completion_body("It is 22C in Paris.")),
    ]
    provider = LiteLLMProvider()
    choice = {"type": "function", "function": {"name": "get_weather"}}
    first = await provider.complete(call(tools=[WEATHER], tool_choice=choice))
    assert "mcp.types" in sys.modules  # litellm's tools path imports mcp
    assert sent(route, 0)["tools"] == [WEATHER]
    assert sent(route, 0)["tool_choice"] == choice
    parsed = ChatCompletion.model_validate(first)
    assert parsed.choices[0].finish_reason == "tool_calls"
    assert parsed.choices[0].message.tool_calls is not None
    assert parsed.choices[0].message.tool_calls[0].id == "call_abc"
    assert first["choices"][0]["message"]["tool_calls"] == [tool_call]

    conversation = [
        *USER,
        first["choices"][0]["message"],
        {"role": "tool", "tool_call_id": "call_abc", "content": "22C"},
    ]
    second = await provider.complete(call(conversation, tools=[WEATHER]))
    forwarded = sent(route, 1)["messages"]
    assert forwarded[1]["tool_calls"][0]["id"] == "call_abc"
    assert forwarded[2] == {"role": "tool", "tool_call_id": "call_abc", "content": "22C"}
    assert second["choices"][0]["message"]["content"] == "It is 22C in Paris."


STREAM = [
    chunk(0, {"role": "assistant", "content": "", "refusal": None}),
    chunk(1, {"role": "assistant", "content": "", "refusal": None}),
    chunk(0, {"content": "Hello"}),
    chunk(1, {"content": "Bonjour"}),
    chunk(0, {"content": " world"}),
    chunk(0, {}, "stop"),
    chunk(1, {}, "length"),
    chunk(usage={"prompt_tokens": 4, "completion_tokens": 3, "total_tokens": 7}, choices=False),
]


async def test_stream_chunks_are_the_upstream_chunks(upstream: respx.MockRouter) -> None:
    route = upstream.post("http://upstream.test/v1/chat/completions").mock(return_value=sse(STREAM))
    c = call(n=2, stream_options={"include_usage": True})
    chunks = [x async for x in LiteLLMProvider().stream(c)]
    assert sent(route)["stream"] is True
    assert sent(route)["stream_options"] == {"include_usage": True}
    assert chunks == STREAM
    for x in chunks:
        ChatCompletionChunk.model_validate(x)


async def test_stream_tool_call_deltas(upstream: respx.MockRouter) -> None:
    opening = {
        "index": 0,
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": ""},
    }
    events = [
        chunk(0, {"role": "assistant", "content": None, "tool_calls": [opening]}),
        chunk(0, {"tool_calls": [{"index": 0, "function": {"arguments": '{"ci'}}]}),
        chunk(0, {"tool_calls": [{"index": 0, "function": {"arguments": 'ty":"Paris"}'}}]}),
        chunk(0, {}, "tool_calls"),
    ]
    upstream.post("http://upstream.test/v1/chat/completions").mock(return_value=sse(events))
    chunks = [x async for x in LiteLLMProvider().stream(call(tools=[WEATHER]))]
    assert chunks == events


async def test_stream_error_event_mid_stream_raises(upstream: respx.MockRouter) -> None:
    """litellm's wrapper would turn this into finish_reason "stop"; we surface it."""
    upstream.post("http://upstream.test/v1/chat/completions").mock(
        return_value=sse(
            [chunk(0, {"role": "assistant", "content": ""}), chunk(0, {"content": "Hel"})],
            tail='data: {"error": {"message": "server blew up", "type": "server_error"}}\n\n',
        )
    )
    seen = []
    with pytest.raises(ProviderError) as info:
        async for x in LiteLLMProvider().stream(call()):
            seen.append(x)
    assert len(seen) == 2
    assert "server blew up" in info.value.message


async def test_stream_cut_short_raises(upstream: respx.MockRouter) -> None:
    upstream.post("http://upstream.test/v1/chat/completions").mock(
        return_value=sse([chunk(0, {"role": "assistant", "content": "Hi"})], done=False)
    )
    with pytest.raises(ProviderError, match="finish_reason"):
        async for _ in LiteLLMProvider().stream(call()):
            pass


@pytest.mark.parametrize(
    ("response", "kind", "code", "retryable"),
    [
        (error(429, "Rate limit reached", **{"retry-after": "7"}), RateLimitError, None, True),
        (error(500, "boom"), ProviderError, "provider_error", True),
        (error(503, "overloaded"), ProviderError, "provider_error", True),
        (httpx.Response(502, text="<html>bad gateway</html>"), ProviderError, None, True),
        (error(400, "bad 'temperature'", code="invalid_value"), BadRequestError, None, False),
        (error(422, "unprocessable"), BadRequestError, None, False),
        (error(401, "Incorrect API key provided: sk-up****-key"), ProviderError, None, False),
        (error(403, "Project lacks access"), ProviderError, "provider_auth_error", False),
        (error(404, "The model does not exist"), ProviderError, None, False),
    ],
)
async def test_error_mapping(
    upstream: respx.MockRouter,
    response: httpx.Response,
    kind: type[PinyardError],
    code: str | None,
    retryable: bool,
) -> None:
    route = upstream.post("http://upstream.test/v1/chat/completions").mock(return_value=response)
    with pytest.raises(kind) as info:
        await LiteLLMProvider().complete(call())
    err = info.value
    assert type(err) is kind
    assert err.retryable is retryable
    assert err.upstream_status == response.status_code
    assert route.call_count == 1  # litellm and the OpenAI SDK do not retry
    if code:
        assert err.code == code
    if response.status_code == 429:
        assert isinstance(err, RateLimitError)
        assert err.retry_after == 7
        assert err.headers["Retry-After"] == "7"
    if response.status_code == 400:
        assert err.message == "bad 'temperature'"
        assert err.code == "invalid_value"
    if response.status_code in (401, 403):
        assert err.code == "provider_auth_error"
        assert "sk-" not in err.message
    if response.status_code == 404:
        assert err.code == "provider_model_not_found"


async def test_error_mapping_when_streaming(upstream: respx.MockRouter) -> None:
    upstream.post("http://upstream.test/v1/chat/completions").mock(
        return_value=error(429, "slow down", **{"retry-after-ms": "1500"})
    )
    with pytest.raises(RateLimitError) as info:
        async for _ in LiteLLMProvider().stream(call()):
            pass
    assert info.value.retry_after == 1.5


async def test_context_window_and_connection_and_timeout(upstream: respx.MockRouter) -> None:
    route = upstream.post("http://upstream.test/v1/chat/completions")
    provider = LiteLLMProvider()
    route.mock(
        return_value=error(
            400,
            "This model's maximum context length is 8192 tokens",
            code="context_length_exceeded",
        )
    )
    with pytest.raises(BadRequestError) as too_long:
        await provider.complete(call())
    assert too_long.value.code == "context_length_exceeded"

    route.mock(side_effect=httpx.ConnectError("connection refused"))
    with pytest.raises(ProviderError) as unreachable:
        await provider.complete(call())
    assert unreachable.value.retryable

    route.mock(side_effect=httpx.ReadTimeout("read timed out"))
    with pytest.raises(GatewayTimeoutError) as slow:
        await provider.complete(call())
    assert slow.value.retryable


async def test_unroutable_model_and_control_params(upstream: respx.MockRouter) -> None:
    route = upstream.post("http://upstream.test/v1/chat/completions").respond(
        json=completion_body()
    )
    provider = LiteLLMProvider()
    with pytest.raises(ProviderError) as unknown:
        await provider.complete(ProviderCall(model="nonsense/model", messages=USER))
    assert unknown.value.code == "provider_model_not_found"
    for name in ("api_base", "api_key", "base_url", "extra_headers", "mock_response"):
        with pytest.raises(BadRequestError) as refused:
            await provider.complete(
                ProviderCall(model=MODEL, messages=USER, params={name: "http://evil.test"})
            )
        assert refused.value.param == name
    assert route.call_count == 0


async def test_embeddings(upstream: respx.MockRouter) -> None:
    body = {
        "object": "list",
        "data": [
            {"object": "embedding", "index": 0, "embedding": [0.1, 0.2]},
            {"object": "embedding", "index": 1, "embedding": [0.3, 0.4]},
        ],
        "model": "text-embedding-3-small",
        "usage": {"prompt_tokens": 4, "total_tokens": 4},
    }
    route = upstream.post("http://upstream.test/v1/embeddings").respond(json=body)
    call_ = EmbeddingCall(
        model="openai/text-embedding-3-small", input=["a", "b"], params={"dimensions": 2}
    )
    result = await LiteLLMProvider().embed(call_)
    assert sent(route) == {"model": "text-embedding-3-small", "input": ["a", "b"], "dimensions": 2}
    assert result == body
    CreateEmbeddingResponse.model_validate(result)


async def test_providers_file_endpoint(
    upstream: respx.MockRouter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "providers.yaml"
    path.write_text(
        "providers:\n  openai:\n    api_base: http://other.test/v1\n    api_key_env: OTHER_KEY\n"
    )
    endpoints = load_providers_file(path)
    assert endpoints == {
        "openai": ProviderEndpoint(api_base="http://other.test/v1", api_key_env="OTHER_KEY")
    }
    route = upstream.post("http://other.test/v1/chat/completions").respond(json=completion_body())
    provider = LiteLLMProvider(endpoints)

    monkeypatch.delenv("OTHER_KEY", raising=False)
    with pytest.raises(ProviderError) as missing:
        await provider.complete(call())
    assert missing.value.code == "provider_auth_error"
    assert route.call_count == 0

    monkeypatch.setenv("OTHER_KEY", "sk-other")
    await provider.complete(call())
    assert route.calls.last.request.headers["authorization"] == "Bearer sk-other"


@pytest.mark.parametrize(
    "text",
    [
        "providers:\n  openai:\n    api_key: sk-literal\n",
        "providers:\n  openai:\n    base: http://x\n",
        "providers: [openai]\n",
        "other: {}\n",
        "providers: {openai: {api_base: 3}}\n",
        "providers: {openai: [",
    ],
)
def test_providers_file_rejects(tmp_path: Path, text: str) -> None:
    path = tmp_path / "providers.yaml"
    path.write_text(text)
    with pytest.raises(ProvidersFileError):
        load_providers_file(path)


def anthropic_event(kind: str, **data: Any) -> str:
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n"


async def test_non_openai_upstream_stream_is_normalised(
    upstream: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Anthropic goes through litellm's stream wrapper; chunks still look like OpenAI's."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://anthropic.test")
    message: dict[str, Any] = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-3-5-haiku-20241022",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 1},
    }
    text = (
        anthropic_event("message_start", message=message)
        + anthropic_event(
            "content_block_start", index=0, content_block={"type": "text", "text": ""}
        )
        + anthropic_event(
            "content_block_delta", index=0, delta={"type": "text_delta", "text": "Hi"}
        )
        + anthropic_event("content_block_delta", index=0, delta={"type": "text_delta", "text": "!"})
        + anthropic_event("content_block_stop", index=0)
        + anthropic_event(
            "message_delta", delta={"stop_reason": "end_turn"}, usage={"output_tokens": 2}
        )
        + anthropic_event("message_stop")
    )
    route = upstream.post("http://anthropic.test/v1/messages").mock(
        return_value=httpx.Response(200, text=text, headers={"content-type": "text/event-stream"})
    )
    c = ProviderCall(
        model="anthropic/claude-3-5-haiku-latest",
        messages=USER,
        params={"max_tokens": 50, "stream_options": {"include_usage": True}},
    )
    chunks = [x async for x in LiteLLMProvider().stream(c)]
    assert sent(route)["model"] == "claude-3-5-haiku-latest"
    for x in chunks:
        ChatCompletionChunk.model_validate(x)
        assert "provider_specific_fields" not in keys_anywhere(x)
    *body, last = chunks
    assert last["choices"] == []
    assert last["usage"]["completion_tokens"] == 2
    assert "cost" not in last["usage"]
    assert all(x["usage"] is None for x in body)
    assert "".join(x["choices"][0]["delta"].get("content", "") for x in body) == "Hi!"
    assert body[-1]["choices"][0] == {
        "index": 0,
        "delta": {},
        "finish_reason": "stop",
        "logprobs": None,
    }
