"""Errors on /v1/messages: Anthropic's envelope and the SDK's exception classes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anthropic
import httpx
import pytest
import respx

from tests.anthropic.conftest import VARS, support_chat
from tests.conftest import BASE, wait_for_record
from tests.gateway.conftest import chunk, openai_spec

HELLO: list[Any] = [{"role": "user", "content": "hi"}]


async def on_upstream(admin: httpx.AsyncClient) -> None:
    await support_chat(admin, **{k: v for k, v in openai_spec().items() if k != "name"})


def error_of(exc: anthropic.APIStatusError) -> dict[str, Any]:
    assert isinstance(exc.body, dict) and exc.body["type"] == "error"
    error: dict[str, Any] = exc.body["error"]
    return error


async def test_unknown_alias_is_not_found(
    admin: httpx.AsyncClient, claude: anthropic.AsyncAnthropic
) -> None:
    await support_chat(admin)
    with pytest.raises(anthropic.NotFoundError) as err:
        await claude.messages.create(model="no-such-alias", max_tokens=10, messages=HELLO)
    assert error_of(err.value)["type"] == "not_found_error"
    assert "no-such-alias" in error_of(err.value)["message"]
    # Failed requests are recorded like any other, and the SDK sees the request id.
    assert err.value.request_id == err.value.response.headers["x-pinyard-request-id"]
    record = await wait_for_record(admin, err.value.response.headers["x-pinyard-request-id"])
    assert record["status"] == 404 and record["endpoint"] == "messages"


async def test_missing_max_tokens_is_a_bad_request_naming_the_field(
    admin: httpx.AsyncClient, claude: anthropic.AsyncAnthropic
) -> None:
    await support_chat(admin)
    with pytest.raises(anthropic.BadRequestError) as err:
        await claude.messages.create(
            model="support-chat",
            max_tokens=anthropic.omit,  # type: ignore[arg-type]
            messages=HELLO,
            extra_body=VARS,
            timeout=10,  # else the SDK derives a timeout from max_tokens
        )
    assert error_of(err.value) == {
        "type": "invalid_request_error",
        "message": "max_tokens: Field required",
    }
    record = await wait_for_record(admin, err.value.response.headers["x-pinyard-request-id"])
    assert record["status"] == 400 and record["error"].endswith("max_tokens: Field required")


@pytest.mark.parametrize(
    ("messages", "field"),
    [
        (
            [{"role": "user", "content": [{"type": "hologram", "data": "x"}]}],
            "messages.0.content.0",
        ),
        (
            [
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": "toolu_x", "content": "ok"}],
                }
            ],
            "messages.0.content.0.tool_use_id",
        ),
    ],
)
async def test_bad_blocks_are_bad_requests_naming_the_field(
    admin: httpx.AsyncClient,
    claude: anthropic.AsyncAnthropic,
    messages: list[Any],
    field: str,
) -> None:
    await support_chat(admin)
    with pytest.raises(anthropic.BadRequestError) as err:
        await claude.messages.create(
            model="support-chat", max_tokens=10, messages=messages, extra_body=VARS
        )
    assert error_of(err.value)["type"] == "invalid_request_error"
    assert error_of(err.value)["message"].startswith(field)


async def test_pipeline_errors_keep_lineage_headers(
    admin: httpx.AsyncClient, claude: anthropic.AsyncAnthropic
) -> None:
    await support_chat(admin)
    with pytest.raises(anthropic.BadRequestError) as err:
        await claude.messages.create(model="support-chat", max_tokens=10, messages=HELLO)
    assert "customer_name" in error_of(err.value)["message"]
    assert err.value.response.headers["x-pinyard-bundle"] == "support-chat@1"


async def test_invalid_json_is_an_anthropic_bad_request(app: Any) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        response = await http.post("/v1/messages", content=b"{nope")
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


async def test_upstream_rate_limit_is_rate_limit_error(
    admin: httpx.AsyncClient, claude: anthropic.AsyncAnthropic, upstream: respx.MockRouter
) -> None:
    upstream.post("/chat/completions").respond(
        429, json={"error": {"message": "slow down"}}, headers={"retry-after": "0"}
    )
    await on_upstream(admin)
    with pytest.raises(anthropic.RateLimitError) as err:
        await claude.messages.create(
            model="support-chat", max_tokens=10, messages=HELLO, extra_body=VARS
        )
    assert error_of(err.value)["type"] == "rate_limit_error"
    assert "retry-after" in err.value.response.headers


async def test_upstream_failure_is_an_api_error_with_status_502(
    admin: httpx.AsyncClient, claude: anthropic.AsyncAnthropic, upstream: respx.MockRouter
) -> None:
    upstream.post("/chat/completions").respond(500, json={"error": {"message": "down"}})
    await on_upstream(admin)
    with pytest.raises(anthropic.InternalServerError) as err:
        await claude.messages.create(
            model="support-chat", max_tokens=10, messages=HELLO, extra_body=VARS
        )
    assert err.value.status_code == 502
    assert error_of(err.value)["type"] == "api_error"


async def test_stream_failing_after_first_byte_ends_with_an_error_event(
    admin: httpx.AsyncClient, claude: anthropic.AsyncAnthropic, upstream: respx.MockRouter
) -> None:
    class Broken(httpx.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            first = chunk({"role": "assistant", "content": "Hel"})
            yield b"data: " + json.dumps(first).encode() + b"\n\n"
            raise httpx.RemoteProtocolError("upstream hung up")

    upstream.post("/chat/completions").mock(
        return_value=httpx.Response(
            200, headers={"content-type": "text/event-stream"}, stream=Broken()
        )
    )
    await on_upstream(admin)
    received: list[str] = []
    with pytest.raises(anthropic.APIStatusError) as err:
        async with claude.messages.stream(
            model="support-chat", max_tokens=10, messages=HELLO, extra_body=VARS
        ) as stream:
            async for text in stream.text_stream:
                received.append(text)
    assert received == ["Hel"]
    assert error_of(err.value)["type"] == "api_error"
