"""Bundles pinned to an Anthropic model answer every SDK, through litellm to a mocked API."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx
import openai
import respx

from tests.anthropic.conftest import CLAUDE, VARS, anthropic_message, support_chat
from tests.conftest import wait_for_record

HELLO: list[Any] = [{"role": "user", "content": "where is my order?"}]


def claude_bundle() -> dict[str, Any]:
    return {"model": CLAUDE, "params": {"temperature": 0.2, "max_tokens": 256}}


def anthropic_sse(events: list[dict[str, Any]]) -> bytes:
    return b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)


async def test_anthropic_sdk_on_an_anthropic_pinned_bundle(
    admin: httpx.AsyncClient,
    claude: anthropic.AsyncAnthropic,
    anthropic_upstream: respx.MockRouter,
) -> None:
    route = anthropic_upstream.post("/v1/messages").respond(
        json=anthropic_message("It ships today.")
    )
    bundle = await support_chat(admin, **claude_bundle())
    raw = await claude.messages.with_raw_response.create(
        model="support-chat",
        max_tokens=100,
        system="Be brief.",
        messages=HELLO,
        extra_body=VARS,
    )
    message = await raw.parse()
    assert message.content[0].text == "It ships today."  # type: ignore[union-attr]
    assert message.stop_reason == "end_turn"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (12, 4)
    assert raw.headers["x-pinyard-provider-model"] == CLAUDE
    assert raw.headers["x-pinyard-bundle-digest"] == bundle["digest"]
    sent = json.loads(route.calls[-1].request.content)
    assert sent["model"] == "claude-3-5-sonnet-20241022"
    assert sent["max_tokens"] == 256  # the bundle's, not the client's
    system = sent["system"]
    texts = [system] if isinstance(system, str) else [block["text"] for block in system]
    assert "You help Ada with orders." in texts[0] and "Be brief." in " ".join(texts)
    assert sent["messages"][-1]["role"] == "user"
    record = await wait_for_record(admin, raw.headers["x-pinyard-request-id"])
    assert record["provider_model"] == CLAUDE and record["prompt_tokens"] == 12


async def test_openai_sdk_on_the_same_anthropic_pinned_bundle(
    admin: httpx.AsyncClient, oai: openai.AsyncOpenAI, anthropic_upstream: respx.MockRouter
) -> None:
    anthropic_upstream.post("/v1/messages").respond(json=anthropic_message("Same answer."))
    await support_chat(admin, **claude_bundle())
    answer = await oai.chat.completions.create(
        model="support-chat", messages=HELLO, extra_body=VARS
    )
    assert answer.choices[0].message.content == "Same answer."


async def test_streamed_tool_use_from_an_anthropic_upstream(
    admin: httpx.AsyncClient,
    claude: anthropic.AsyncAnthropic,
    anthropic_upstream: respx.MockRouter,
) -> None:
    start = anthropic_message("")
    start.update(content=[], stop_reason=None, usage={"input_tokens": 20, "output_tokens": 1})
    events = [
        {"type": "message_start", "message": start},
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "text", "text": ""},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "text_delta", "text": "Looking it up."},
        },
        {"type": "content_block_stop", "index": 0},
        {
            "type": "content_block_start",
            "index": 1,
            "content_block": {
                "type": "tool_use",
                "id": "toolu_1",
                "name": "get_order",
                "input": {},
            },
        },
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": '{"order_id": '},
        },
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": '"7"}'},
        },
        {"type": "content_block_stop", "index": 1},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "tool_use", "stop_sequence": None},
            "usage": {"output_tokens": 9},
        },
        {"type": "message_stop"},
    ]
    anthropic_upstream.post("/v1/messages").respond(
        content=anthropic_sse(events), headers={"content-type": "text/event-stream"}
    )
    await support_chat(admin, **claude_bundle())
    tool = {"name": "get_order", "input_schema": {"type": "object", "properties": {}}}
    async with claude.messages.stream(
        model="support-chat",
        max_tokens=100,
        messages=HELLO,
        tools=[tool],  # type: ignore[list-item]
        extra_body=VARS,
    ) as stream:
        final = await stream.get_final_message()
    assert [block.type for block in final.content] == ["text", "tool_use"]
    assert final.content[0].text == "Looking it up."  # type: ignore[union-attr]
    assert final.content[1].input == {"order_id": "7"}  # type: ignore[union-attr]
    assert final.content[1].id == "toolu_1"  # type: ignore[union-attr]
    assert final.stop_reason == "tool_use"
    assert final.usage.output_tokens == 9
