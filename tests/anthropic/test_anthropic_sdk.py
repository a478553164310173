"""/v1/messages through the official Anthropic SDK: same alias, same bundle, same lineage."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx
import openai
import respx

from tests.anthropic.conftest import VARS, support_chat
from tests.conftest import BASE, wait_for_record
from tests.gateway.conftest import completion, openai_spec

HELLO: list[Any] = [{"role": "user", "content": "where is my order?"}]
ORDER_TOOL: dict[str, Any] = {
    "name": "get_order",
    "description": "Look an order up by id",
    "input_schema": {
        "type": "object",
        "properties": {"order_id": {"type": "string"}},
        "required": ["order_id"],
    },
}


async def test_create_answers_with_lineage_headers_and_a_record(
    admin: httpx.AsyncClient, claude: anthropic.AsyncAnthropic
) -> None:
    bundle = await support_chat(admin)
    raw = await claude.messages.with_raw_response.create(
        model="support-chat", max_tokens=100, messages=HELLO, extra_body=VARS
    )
    message = await raw.parse()
    assert message.content[0].type == "text"
    assert message.content[0].text == "[fake/echo] where is my order?"
    assert message.stop_reason == "end_turn"
    assert message.usage.output_tokens == 5 and message.usage.input_tokens > 0
    request_id = raw.headers["x-pinyard-request-id"]
    assert message.id == "msg_" + request_id.removeprefix("req_")
    assert raw.headers["request-id"] == request_id
    assert raw.headers["x-pinyard-bundle"] == "support-chat@1"
    assert raw.headers["x-pinyard-bundle-digest"] == bundle["digest"]
    assert raw.headers["x-pinyard-route"] == "stable"
    assert raw.headers["x-pinyard-provider-model"] == "fake/echo"
    # The client's max_tokens is a tunable param this bundle does not let clients set.
    assert raw.headers["x-pinyard-ignored-params"] == "max_tokens"
    record = await wait_for_record(admin, request_id)
    assert record["endpoint"] == "messages"
    assert record["bundle_digest"] == bundle["digest"]
    assert record["completion_tokens"] == 5


async def test_any_sdk_gets_the_same_bundle(
    admin: httpx.AsyncClient, claude: anthropic.AsyncAnthropic, oai: openai.AsyncOpenAI
) -> None:
    await support_chat(admin)
    via_openai = await oai.chat.completions.with_raw_response.create(
        model="support-chat", messages=HELLO, extra_body=VARS
    )
    via_anthropic = await claude.messages.with_raw_response.create(
        model="support-chat", max_tokens=100, messages=HELLO, extra_body=VARS
    )
    for header in ("x-pinyard-bundle-digest", "x-pinyard-environment", "x-pinyard-route"):
        assert via_openai.headers[header] == via_anthropic.headers[header]
    answer = via_openai.parse().choices[0].message.content
    assert (await via_anthropic.parse()).content[0].text == answer  # type: ignore[union-attr]


async def test_stream_events_and_final_message(
    admin: httpx.AsyncClient, claude: anthropic.AsyncAnthropic
) -> None:
    await support_chat(admin)
    async with claude.messages.stream(
        model="support-chat", max_tokens=100, messages=HELLO, extra_body=VARS
    ) as stream:
        kinds = [event.type async for event in stream]
        final = await stream.get_final_message()
    assert kinds[0] == "message_start"
    assert kinds[-2:] == ["message_delta", "message_stop"]
    assert "text" in kinds and kinds.count("content_block_start") == 1
    assert final.content[0].text == "[fake/echo] where is my order?"  # type: ignore[union-attr]
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == 5 and final.usage.input_tokens > 0
    request_id = "req_" + final.id.removeprefix("msg_")
    record = await wait_for_record(admin, request_id)
    assert record["stream"] is True and record["completion_tokens"] == 5


async def test_tool_use_round_trip(
    admin: httpx.AsyncClient, claude: anthropic.AsyncAnthropic
) -> None:
    await support_chat(admin)
    first = await claude.messages.create(
        model="support-chat",
        max_tokens=100,
        messages=HELLO,
        tools=[ORDER_TOOL],  # type: ignore[list-item]
        tool_choice={"type": "any"},
        extra_body=VARS,
    )
    assert first.stop_reason == "tool_use"
    [tool_use] = first.content
    assert tool_use.type == "tool_use" and tool_use.name == "get_order"
    assert tool_use.input == {"order_id": ""}
    second = await claude.messages.create(
        model="support-chat",
        max_tokens=100,
        messages=[
            *HELLO,
            {"role": "assistant", "content": first.content},  # type: ignore[typeddict-item]
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": tool_use.id, "content": "shipped"}
                ],
            },
        ],
        tools=[ORDER_TOOL],  # type: ignore[list-item]
        extra_body=VARS,
    )
    assert second.stop_reason == "end_turn"
    assert second.content[0].text == "[fake/echo] tool result: shipped"  # type: ignore[union-attr]


async def test_streamed_tool_use_arrives_as_input_json_deltas(
    admin: httpx.AsyncClient, claude: anthropic.AsyncAnthropic
) -> None:
    await support_chat(admin)
    async with claude.messages.stream(
        model="support-chat",
        max_tokens=100,
        messages=HELLO,
        tools=[ORDER_TOOL],  # type: ignore[list-item]
        extra_body=VARS,
    ) as stream:
        pieces = [e.partial_json async for e in stream if e.type == "input_json"]
        final = await stream.get_final_message()
    assert "".join(pieces) == '{"order_id": ""}'
    assert final.stop_reason == "tool_use"
    assert final.content[0].input == {"order_id": ""}  # type: ignore[union-attr]


async def test_upstream_receives_the_translated_request(
    admin: httpx.AsyncClient, claude: anthropic.AsyncAnthropic, upstream: respx.MockRouter
) -> None:
    route = upstream.post("/chat/completions").respond(json=completion("On its way."))
    await support_chat(admin, **{k: v for k, v in openai_spec().items() if k != "name"})
    raw = await claude.messages.with_raw_response.create(
        model="support-chat",
        max_tokens=50,
        system="Answer in English.",
        messages=[
            {"role": "user", "content": "status of 7?"},
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "tu_1", "name": "get_order", "input": {}}],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "tu_1", "content": "late"}],
            },
        ],
        tools=[ORDER_TOOL],  # type: ignore[list-item]
        tool_choice={"type": "auto"},
        stop_sequences=["END"],
        metadata={"user_id": "customer-42"},
        extra_body={"temperature": 1.0, **VARS},  # this SDK version has no temperature argument
    )
    message = await raw.parse()
    assert message.content[0].text == "On its way."  # type: ignore[union-attr]
    assert message.usage.input_tokens == 11 and message.usage.output_tokens == 4
    sent = json.loads(route.calls[-1].request.content)
    assert sent["messages"] == [
        {"role": "system", "content": "You help Ada."},  # the bundle's prompt comes first
        {"role": "system", "content": "Answer in English."},
        {"role": "user", "content": "status of 7?"},
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": "tu_1",
                    "type": "function",
                    "function": {"name": "get_order", "arguments": "{}"},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "tu_1", "content": "late"},
    ]
    assert sent["tools"][0]["function"]["name"] == "get_order"
    assert sent["tool_choice"] == "auto"
    assert sent["stop"] == ["END"] and sent["user"] == "customer-42"
    assert sent["max_tokens"] == 50 and sent["temperature"] == 0.2
    assert raw.headers["x-pinyard-ignored-params"] == "temperature"
    assert raw.headers["x-pinyard-provider-model"] == "openai/gpt-4o-2024-11-20"


async def test_x_api_key_and_bearer_are_both_accepted(admin: httpx.AsyncClient, app: Any) -> None:
    await support_chat(admin)
    body = {"model": "support-chat", "max_tokens": 10, "messages": HELLO, **VARS}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        for headers in ({"x-api-key": "pk-anything"}, {"Authorization": "Bearer pk-anything"}):
            response = await http.post("/v1/messages", json=body, headers=headers)
            assert response.status_code == 200, response.text
            assert response.json()["type"] == "message"


async def test_count_tokens_counts_what_the_pinned_model_would_read(
    admin: httpx.AsyncClient, claude: anthropic.AsyncAnthropic
) -> None:
    await support_chat(admin, prompt={"system": "Hi {{ customer_name }}."})
    raw = await claude.messages.with_raw_response.count_tokens(
        model="support-chat", messages=HELLO, extra_body=VARS
    )
    # fake/ counts whitespace tokens: "Hi Ada." (2) + "where is my order?" (4).
    assert (await raw.parse()).input_tokens == 6
    assert raw.headers["x-pinyard-bundle"] == "support-chat@1"


async def test_count_tokens_on_a_real_model_uses_its_tokenizer(
    admin: httpx.AsyncClient, claude: anthropic.AsyncAnthropic
) -> None:
    await support_chat(admin, **{k: v for k, v in openai_spec().items() if k != "name"})
    plain = await claude.messages.count_tokens(
        model="support-chat", messages=HELLO, extra_body=VARS
    )
    with_tools = await claude.messages.count_tokens(
        model="support-chat",
        messages=HELLO,
        tools=[ORDER_TOOL],  # type: ignore[list-item]
        extra_body=VARS,
    )
    assert 5 < plain.input_tokens < with_tools.input_tokens
