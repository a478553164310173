"""The fake provider answers in OpenAI's exact shapes, deterministically."""

from __future__ import annotations

import base64
import json
import math
import struct
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

import jsonschema
import pytest
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types import CreateEmbeddingResponse
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from pydantic import BaseModel, Field

from app.errors import BadRequestError, ProviderError, RateLimitError
from app.providers.fake import FakeProvider
from app.providers.interface import EmbeddingCall, ProviderCall

USER = [{"role": "user", "content": "What is the capital of France?"}]
WEATHER: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer", "minimum": 1},
            },
            "required": ["city", "unit"],
        },
    },
}
TIME: dict[str, Any] = {
    "type": "function",
    "function": {"name": "get_time", "parameters": {"type": "object"}},
}


def call(messages: list[dict[str, Any]] | None = None, **params: Any) -> ProviderCall:
    return ProviderCall(model="fake/echo", messages=messages or USER, params=params)


async def collect(provider: FakeProvider, c: ProviderCall) -> list[dict[str, Any]]:
    return [chunk async for chunk in provider.stream(c)]


def reassemble(chunks: list[dict[str, Any]]) -> Any:
    """What the OpenAI SDK's stream helper accumulates from these chunks."""
    state: ChatCompletionStreamState[Any] = ChatCompletionStreamState()
    for c in chunks:
        state.handle_chunk(ChatCompletionChunk.model_validate(c))
    return state.current_completion_snapshot


async def test_completion_shape_and_echo() -> None:
    result = await FakeProvider().complete(call())
    parsed = ChatCompletion.model_validate(result)
    assert parsed.object == "chat.completion"
    assert parsed.model == "fake/echo"
    assert parsed.system_fingerprint == "fake"
    assert parsed.id.startswith("chatcmpl-fake-")
    assert parsed.choices[0].message.content == "[fake/echo] What is the capital of France?"
    assert parsed.choices[0].finish_reason == "stop"
    assert result["choices"][0]["message"]["refusal"] is None
    assert result["choices"][0]["logprobs"] is None
    assert result["usage"] == {"prompt_tokens": 6, "completion_tokens": 7, "total_tokens": 13}
    assert isinstance(result["created"], int)
    assert (await FakeProvider().complete(call()))["id"] == result["id"]
    assert (await FakeProvider().complete(call(seed=7)))["id"] != result["id"]


async def test_content_parts_and_last_user_message() -> None:
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "ok"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "describe"},
                {"type": "image_url", "image_url": {"url": "data:,"}},
                {"type": "text", "text": "this"},
            ],
        },
    ]
    result = await FakeProvider().complete(call(messages))
    assert result["choices"][0]["message"]["content"] == "[fake/echo] describe this"


async def test_n_stop_and_max_tokens() -> None:
    provider = FakeProvider()
    result = await provider.complete(call(n=3))
    assert [c["index"] for c in result["choices"]] == [0, 1, 2]
    stopped = await provider.complete(call(stop=["capital", "France"]))
    assert stopped["choices"][0]["message"]["content"] == "[fake/echo] What is the "
    assert stopped["choices"][0]["finish_reason"] == "stop"
    short = await provider.complete(call(max_tokens=3))
    assert short["choices"][0]["message"]["content"] == "[fake/echo] What is"
    assert short["choices"][0]["finish_reason"] == "length"
    assert short["usage"]["completion_tokens"] == 3
    newer = await provider.complete(call(max_completion_tokens=2))
    assert newer["choices"][0]["finish_reason"] == "length"
    roomy = await provider.complete(call(max_tokens=100))
    assert roomy["choices"][0]["finish_reason"] == "stop"


async def test_json_object() -> None:
    result = await FakeProvider().complete(call(response_format={"type": "json_object"}))
    answer = json.loads(result["choices"][0]["message"]["content"])
    assert answer == {"answer": "[fake/echo] What is the capital of France?"}


class Colour(StrEnum):
    RED = "red"
    BLUE = "blue"


class Address(BaseModel):
    street: str
    zip_code: str = Field(min_length=5, max_length=5)


class Person(BaseModel):
    name: str
    age: int = Field(ge=18)
    score: float
    active: bool
    favourite: Colour
    kind: Literal["customer", "staff"]
    home: Address
    previous: list[Address]
    nickname: str | None = None
    born: datetime
    manager: Person | None = None


async def test_json_schema_instance_validates_and_parses() -> None:
    schema = Person.model_json_schema()
    assert "$defs" in schema
    response_format = {
        "type": "json_schema",
        "json_schema": {"name": "person", "schema": schema, "strict": True},
    }
    result = await FakeProvider().complete(call(response_format=response_format))
    content = result["choices"][0]["message"]["content"]
    jsonschema.validate(json.loads(content), schema)
    person = Person.model_validate_json(content)
    assert person.age == 18
    assert person.favourite is Colour.RED


async def test_tool_call_then_tool_result_round_trip() -> None:
    provider = FakeProvider()
    first = await provider.complete(call(tools=[WEATHER, TIME]))
    parsed = ChatCompletion.model_validate(first)
    choice = parsed.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    assert choice.message.tool_calls is not None
    tool_call = choice.message.tool_calls[0]
    assert tool_call.id.startswith("call_fake_")
    assert tool_call.type == "function"
    assert tool_call.function.name == "get_weather"
    arguments = json.loads(tool_call.function.arguments)
    jsonschema.validate(arguments, WEATHER["function"]["parameters"])
    assert arguments["unit"] == "celsius"

    conversation = [
        *USER,
        first["choices"][0]["message"],
        {"role": "tool", "tool_call_id": tool_call.id, "content": "22C and sunny"},
    ]
    second = await provider.complete(call(conversation, tools=[WEATHER, TIME]))
    assert second["choices"][0]["finish_reason"] == "stop"
    assert "22C and sunny" in second["choices"][0]["message"]["content"]


async def test_tool_choice_named_none_and_unknown() -> None:
    provider = FakeProvider()
    named = {"type": "function", "function": {"name": "get_time"}}
    result = await provider.complete(call(tools=[WEATHER, TIME], tool_choice=named))
    assert result["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "get_time"
    assert result["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] == "{}"
    off = await provider.complete(call(tools=[WEATHER], tool_choice="none"))
    assert off["choices"][0]["message"]["content"].startswith("[fake/echo]")
    missing = {"type": "function", "function": {"name": "nope"}}
    with pytest.raises(BadRequestError) as info:
        await provider.complete(call(tools=[WEATHER], tool_choice=missing))
    assert info.value.param == "tool_choice"


async def test_stream_matches_completion() -> None:
    provider = FakeProvider()
    chunks = await collect(provider, call())
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert chunks[-1]["choices"][0] == {
        "index": 0,
        "delta": {},
        "finish_reason": "stop",
        "logprobs": None,
    }
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert all("usage" not in c for c in chunks)
    assert len(chunks) > 4
    final = reassemble(chunks)
    complete = await provider.complete(call())
    assert final.choices[0].message.content == complete["choices"][0]["message"]["content"]
    assert final.id == complete["id"]


async def test_stream_include_usage_and_n() -> None:
    provider = FakeProvider()
    c = call(n=2, max_tokens=4, stream_options={"include_usage": True})
    chunks = await collect(provider, c)
    *body, last = chunks
    assert last["choices"] == []
    assert last["usage"] == (await provider.complete(c))["usage"]
    assert all(x["usage"] is None for x in body)
    final = reassemble(chunks)
    assert [ch.finish_reason for ch in final.choices] == ["length", "length"]
    assert final.choices[1].message.content == "[fake/echo] What is the"


async def test_stream_tool_call_like_openai() -> None:
    chunks = await collect(FakeProvider(), call(tools=[WEATHER]))
    opening = chunks[0]["choices"][0]["delta"]
    assert opening["role"] == "assistant"
    assert opening["content"] is None
    (first_call,) = opening["tool_calls"]
    assert first_call["index"] == 0
    assert first_call["id"].startswith("call_fake_")
    assert first_call["type"] == "function"
    assert first_call["function"] == {"name": "get_weather", "arguments": ""}
    pieces = [c["choices"][0]["delta"]["tool_calls"][0] for c in chunks[1:-1]]
    assert all(set(p) == {"index", "function"} for p in pieces)
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"
    final = reassemble(chunks)
    tool_calls = final.choices[0].message.tool_calls
    assert tool_calls is not None
    arguments = json.loads(tool_calls[0].function.arguments)
    jsonschema.validate(arguments, WEATHER["function"]["parameters"])


async def test_embeddings() -> None:
    provider = FakeProvider()
    result = await provider.embed(EmbeddingCall(model="fake/embed", input=["a b", "c"]))
    parsed = CreateEmbeddingResponse.model_validate(result)
    assert [d.index for d in parsed.data] == [0, 1]
    assert all(len(d.embedding) == 16 for d in parsed.data)
    assert all(math.isclose(sum(v * v for v in d.embedding), 1.0) for d in parsed.data)
    assert parsed.data[0].embedding != parsed.data[1].embedding
    assert result["usage"] == {"prompt_tokens": 3, "total_tokens": 3}
    again = await provider.embed(EmbeddingCall(model="fake/embed", input="a b"))
    assert again["data"][0]["embedding"] == result["data"][0]["embedding"]

    sized = await provider.embed(
        EmbeddingCall(model="fake/embed", input="a b", params={"dimensions": 40})
    )
    assert len(sized["data"][0]["embedding"]) == 40

    packed = await provider.embed(
        EmbeddingCall(model="fake/embed", input="a b", params={"encoding_format": "base64"})
    )
    raw = base64.b64decode(packed["data"][0]["embedding"])
    floats = struct.unpack("<16f", raw)
    assert all(
        math.isclose(x, y, rel_tol=1e-6, abs_tol=1e-7)
        for x, y in zip(floats, result["data"][0]["embedding"], strict=True)
    )

    tokens = await provider.embed(EmbeddingCall(model="fake/embed", input=[[1, 2, 3], [4]]))
    assert tokens["usage"]["prompt_tokens"] == 4


async def test_simulated_failures() -> None:
    provider = FakeProvider()
    with pytest.raises(RateLimitError) as limited:
        await provider.complete(ProviderCall(model="fake/error-429", messages=USER))
    assert limited.value.retry_after == 1.0
    assert limited.value.retryable
    with pytest.raises(ProviderError) as broken:
        await provider.complete(ProviderCall(model="fake/error-503", messages=USER))
    assert broken.value.retryable
    assert broken.value.upstream_status == 503
    with pytest.raises(BadRequestError):
        await provider.complete(ProviderCall(model="fake/error-400", messages=USER))
    with pytest.raises(ProviderError) as auth:
        await provider.embed(EmbeddingCall(model="fake/error-401", input="x"))
    assert auth.value.code == "provider_auth_error"
    assert not auth.value.retryable
