"""Retries, fallbacks, deadlines and error mapping as the OpenAI SDK sees them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import openai
import pytest
import respx

from tests.conftest import fake_spec, push, set_alias, wait_for_record
from tests.gateway.conftest import chunk, completion, openai_spec
from tests.providers.raw_upstream import answering, raw_upstream

VARS = {"variables": {"customer_name": "Ada"}}
MESSAGES: list[Any] = [{"role": "user", "content": "hi"}]


async def alias_on_upstream(admin: httpx.AsyncClient, **overrides: Any) -> None:
    await push(admin, openai_spec(**overrides))
    await set_alias(admin, "dev", "support-chat", "support-chat@1")


async def test_retries_then_success(
    admin: httpx.AsyncClient, oai: openai.AsyncOpenAI, upstream: respx.MockRouter
) -> None:
    route = upstream.post("/chat/completions")
    route.side_effect = [
        httpx.Response(503, json={"error": {"message": "overloaded"}}),
        httpx.Response(500, json={"error": {"message": "boom"}}),
        httpx.Response(200, json=completion("third time lucky")),
    ]
    await alias_on_upstream(admin)
    raw = await oai.chat.completions.with_raw_response.create(
        model="support-chat", messages=MESSAGES, extra_body=VARS
    )
    assert raw.parse().choices[0].message.content == "third time lucky"
    assert route.call_count == 3
    record = await wait_for_record(admin, raw.headers["x-pinyard-request-id"])
    assert [a["ok"] for a in record["attempts"]] == [False, False, True]


async def test_rate_limit_after_retries_is_429_with_retry_after(
    admin: httpx.AsyncClient, oai: openai.AsyncOpenAI, upstream: respx.MockRouter
) -> None:
    upstream.post("/chat/completions").respond(
        429,
        json={"error": {"message": "slow down", "type": "rate_limit_error"}},
        headers={"retry-after": "0"},
    )
    await alias_on_upstream(admin)
    with pytest.raises(openai.RateLimitError) as err:
        await oai.chat.completions.create(model="support-chat", messages=MESSAGES, extra_body=VARS)
    assert "retry-after" in err.value.response.headers
    assert err.value.response.headers["x-pinyard-bundle"] == "support-chat@1"


async def test_provider_failure_is_502(
    admin: httpx.AsyncClient, oai: openai.AsyncOpenAI, upstream: respx.MockRouter
) -> None:
    upstream.post("/chat/completions").respond(500, json={"error": {"message": "down"}})
    await alias_on_upstream(admin)
    with pytest.raises(openai.InternalServerError) as err:
        await oai.chat.completions.create(model="support-chat", messages=MESSAGES, extra_body=VARS)
    assert err.value.status_code == 502


async def test_upstream_bad_request_is_400_and_not_retried(
    admin: httpx.AsyncClient, oai: openai.AsyncOpenAI, upstream: respx.MockRouter
) -> None:
    route = upstream.post("/chat/completions").respond(
        400, json={"error": {"message": "context too long", "type": "invalid_request_error"}}
    )
    await alias_on_upstream(admin)
    with pytest.raises(openai.BadRequestError):
        await oai.chat.completions.create(model="support-chat", messages=MESSAGES, extra_body=VARS)
    assert route.call_count == 1


async def test_deadline_is_504(
    admin: httpx.AsyncClient, oai: openai.AsyncOpenAI, upstream: respx.MockRouter
) -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(3)
        return httpx.Response(200, json=completion())

    upstream.post("/chat/completions").mock(side_effect=slow)
    await alias_on_upstream(admin, timeout_s=0.3)
    with pytest.raises(openai.APIStatusError) as err:
        await oai.chat.completions.create(model="support-chat", messages=MESSAGES, extra_body=VARS)
    assert err.value.status_code == 504


async def test_exhausted_retries_fall_back_to_the_next_bundle(
    admin: httpx.AsyncClient, oai: openai.AsyncOpenAI, upstream: respx.MockRouter
) -> None:
    route = upstream.post("/chat/completions").respond(503, json={"error": {"message": "down"}})
    await push(admin, fake_spec(name="support-chat-lite"))
    await push(admin, openai_spec(fallbacks=["support-chat-lite@1"]))
    await set_alias(admin, "dev", "support-chat", "support-chat@1")
    raw = await oai.chat.completions.with_raw_response.create(
        model="support-chat", messages=MESSAGES, extra_body=VARS
    )
    assert raw.headers["x-pinyard-route"] == "fallback"
    assert raw.headers["x-pinyard-bundle"] == "support-chat-lite@1"
    assert raw.headers["x-pinyard-provider-model"] == "fake/echo"
    assert "[fake/echo]" in (raw.parse().choices[0].message.content or "")
    assert route.call_count == 3  # the primary's retries came first
    record = await wait_for_record(admin, raw.headers["x-pinyard-request-id"])
    assert [a["model"] for a in record["attempts"]] == ["openai/gpt-4o-2024-11-20"] * 3 + [
        "fake/echo"
    ]
    assert record["route"] == "fallback"


async def test_stream_failing_after_first_byte_ends_with_an_error_event(
    admin: httpx.AsyncClient, oai: openai.AsyncOpenAI, upstream: respx.MockRouter
) -> None:
    class Broken(httpx.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            yield (
                b"data: "
                + json.dumps(chunk({"role": "assistant", "content": "Hel"})).encode()
                + b"\n\n"
            )
            raise httpx.RemoteProtocolError("upstream hung up")

    upstream.post("/chat/completions").mock(
        return_value=httpx.Response(
            200, headers={"content-type": "text/event-stream"}, stream=Broken()
        )
    )
    await alias_on_upstream(admin)
    stream = await oai.chat.completions.create(
        model="support-chat", messages=MESSAGES, stream=True, extra_body=VARS
    )
    received: list[str] = []
    with pytest.raises(openai.APIError):
        async for part in stream:
            if part.choices and part.choices[0].delta.content:
                received.append(part.choices[0].delta.content)
    assert received == ["Hel"]


async def test_a_malformed_upstream_answer_is_a_502_upstream_error_envelope(
    admin: httpx.AsyncClient, oai: openai.AsyncOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad_chunk = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nnot-hex\r\n"
    async with raw_upstream(answering(bad_chunk)) as upstream:
        monkeypatch.setenv("OPENAI_BASE_URL", upstream.base)
        await alias_on_upstream(admin, timeout_s=5)
        for stream in (False, True):
            with pytest.raises(openai.APIStatusError) as err:
                await oai.chat.completions.create(
                    model="support-chat", messages=MESSAGES, extra_body=VARS, stream=stream
                )
            assert err.value.status_code == 502
            body = err.value.response.json()["error"]
            assert body["code"] == "upstream_error" and "chunk size" in body["message"]
