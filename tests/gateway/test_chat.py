"""Chat completions through the official OpenAI SDK, upstream mocked with respx."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import openai
import pytest
import respx
from pydantic import BaseModel

from tests.conftest import fake_spec, push, set_alias
from tests.gateway.conftest import chunk, completion, openai_spec, sse_body

VARS = {"variables": {"customer_name": "Ada"}}


def sent(route: respx.Route, index: int = -1) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(route.calls[index].request.content)
    return body


async def test_alias_answers_with_lineage_headers(
    admin: httpx.AsyncClient, oai: openai.AsyncOpenAI
) -> None:
    bundle = await push(admin, fake_spec())
    await set_alias(admin, "dev", "support-chat", "support-chat@1")
    raw = await oai.chat.completions.with_raw_response.create(
        model="support-chat",
        messages=[{"role": "user", "content": "where is my order?"}],
        extra_body=VARS,
    )
    answer = raw.parse()
    assert "where is my order?" in (answer.choices[0].message.content or "")
    assert raw.headers["x-pinyard-bundle"] == "support-chat@1"
    assert raw.headers["x-pinyard-bundle-digest"] == bundle["digest"]
    assert raw.headers["x-pinyard-environment"] == "dev"
    assert raw.headers["x-pinyard-alias"] == "support-chat"
    assert raw.headers["x-pinyard-route"] == "stable"
    assert raw.headers["x-pinyard-provider-model"] == "fake/echo"
    assert raw.headers["x-pinyard-request-id"].startswith("req_")


async def test_upstream_receives_rendered_prompt_pinned_model_and_merged_params(
    admin: httpx.AsyncClient, oai: openai.AsyncOpenAI, upstream: respx.MockRouter
) -> None:
    route = upstream.post("/chat/completions").respond(json=completion())
    await push(admin, openai_spec())
    await set_alias(admin, "dev", "support-chat", "support-chat@1")
    raw = await oai.chat.completions.with_raw_response.create(
        model="support-chat",
        messages=[{"role": "user", "content": "hi"}],
        temperature=1.5,  # the bundle pins 0.2 and does not let clients tune it
        top_p=0.5,  # not allowed by client_params
        seed=7,  # allowed
        user="customer-42",  # allowed
        extra_body=VARS,
    )
    assert raw.parse().choices[0].message.content == "Hello from upstream"
    body = sent(route)
    assert body["model"] == "gpt-4o-2024-11-20"
    assert body["messages"] == [
        {"role": "system", "content": "You help Ada."},
        {"role": "user", "content": "hi"},
    ]
    assert body["temperature"] == 0.2 and body["seed"] == 7 and body["user"] == "customer-42"
    assert "top_p" not in body
    assert raw.headers["x-pinyard-ignored-params"] == "temperature,top_p"
    assert raw.headers["x-pinyard-provider-model"] == "openai/gpt-4o-2024-11-20"


async def test_streaming_forwards_every_chunk(
    admin: httpx.AsyncClient, oai: openai.AsyncOpenAI, upstream: respx.MockRouter
) -> None:
    pieces = ["Your ", "order ", "ships ", "today."]
    chunks = [chunk({"role": "assistant", "content": ""}, usage=None)]
    chunks += [chunk({"content": p}) for p in pieces]
    chunks += [chunk({}, finish="stop")]
    usage = {"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13}
    chunks += [{**chunk({}), "choices": [], "usage": usage}]
    route = upstream.post("/chat/completions").respond(
        content=sse_body(chunks), headers={"content-type": "text/event-stream"}
    )
    await push(admin, openai_spec())
    await set_alias(admin, "dev", "support-chat", "support-chat@1")
    raw = await oai.chat.completions.with_raw_response.create(
        model="support-chat",
        messages=[{"role": "user", "content": "when?"}],
        stream=True,
        stream_options={"include_usage": True},
        extra_body=VARS,
    )
    assert raw.headers["x-pinyard-bundle"] == "support-chat@1"
    assert raw.headers["content-type"].startswith("text/event-stream")
    received = [c async for c in raw.parse()]
    contents = [
        c.choices[0].delta.content for c in received if c.choices and c.choices[0].delta.content
    ]
    assert contents == pieces
    assert [c.choices[0].finish_reason for c in received if c.choices][-1] == "stop"
    assert received[-1].usage is not None and received[-1].usage.total_tokens == 13
    assert sent(route)["stream"] is True


async def test_stream_ends_with_done(admin: httpx.AsyncClient, app: Any) -> None:
    await push(admin, fake_spec())
    await set_alias(admin, "dev", "support-chat", "support-chat@1")
    response = await admin.post(
        "/v1/chat/completions",
        json={
            "model": "support-chat",
            "stream": True,
            "messages": [{"role": "user", "content": "a b"}],
            **VARS,
        },
    )
    events = [line for line in response.text.split("\n\n") if line]
    assert events[-1] == "data: [DONE]"
    assert all(e.startswith("data: ") for e in events)


async def test_tool_call_round_trip(admin: httpx.AsyncClient, oai: openai.AsyncOpenAI) -> None:
    await push(admin, fake_spec())
    await set_alias(admin, "dev", "support-chat", "support-chat@1")
    tools: list[Any] = [
        {
            "type": "function",
            "function": {
                "name": "order_status",
                "parameters": {
                    "type": "object",
                    "properties": {"order_id": {"type": "string"}},
                    "required": ["order_id"],
                },
            },
        }
    ]
    messages: list[Any] = [{"role": "user", "content": "status of order 7?"}]
    first = await oai.chat.completions.create(
        model="support-chat", messages=messages, tools=tools, tool_choice="auto", extra_body=VARS
    )
    call = first.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert first.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "order_status"
    assert "order_id" in json.loads(call.function.arguments)
    messages += [
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "shipped yesterday"},
    ]
    second = await oai.chat.completions.create(
        model="support-chat", messages=messages, tools=tools, extra_body=VARS
    )
    assert "shipped yesterday" in (second.choices[0].message.content or "")


async def test_tools_reach_the_upstream(
    admin: httpx.AsyncClient, oai: openai.AsyncOpenAI, upstream: respx.MockRouter
) -> None:
    tool_call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "order_status", "arguments": '{"order_id": "7"}'},
    }
    reply = completion()
    reply["choices"][0]["message"] = {
        "role": "assistant",
        "content": None,
        "tool_calls": [tool_call],
    }
    reply["choices"][0]["finish_reason"] = "tool_calls"
    route = upstream.post("/chat/completions").respond(json=reply)
    await push(admin, openai_spec())
    await set_alias(admin, "dev", "support-chat", "support-chat@1")
    tools: list[Any] = [
        {"type": "function", "function": {"name": "order_status", "parameters": {"type": "object"}}}
    ]
    answer = await oai.chat.completions.create(
        model="support-chat",
        messages=[{"role": "user", "content": "order 7?"}],
        tools=tools,
        tool_choice={"type": "function", "function": {"name": "order_status"}},
        extra_body=VARS,
    )
    assert answer.choices[0].message.tool_calls[0].function.arguments == '{"order_id": "7"}'  # type: ignore[index]
    body = sent(route)
    assert body["tools"][0]["function"]["name"] == "order_status"
    assert body["tool_choice"] == {"type": "function", "function": {"name": "order_status"}}


class OrderAnswer(BaseModel):
    order_id: str
    shipped: bool
    items: list[str]


async def test_parse_with_pydantic_response_format(
    admin: httpx.AsyncClient, oai: openai.AsyncOpenAI
) -> None:
    await push(admin, fake_spec())
    await set_alias(admin, "dev", "support-chat", "support-chat@1")
    parsed = await oai.chat.completions.parse(
        model="support-chat",
        messages=[{"role": "user", "content": "order 7"}],
        response_format=OrderAnswer,
        extra_body=VARS,
    )
    assert isinstance(parsed.choices[0].message.parsed, OrderAnswer)


async def test_json_object_n_seed_and_stop(
    admin: httpx.AsyncClient, oai: openai.AsyncOpenAI
) -> None:
    await push(admin, fake_spec(client_params=["n", "seed", "stop", "max_tokens"]))
    await set_alias(admin, "dev", "support-chat", "support-chat@1")
    answer = await oai.chat.completions.create(
        model="support-chat",
        messages=[{"role": "user", "content": "one two STOP three"}],
        n=2,
        seed=3,
        stop=["STOP"],
        extra_body=VARS,
    )
    assert [c.index for c in answer.choices] == [0, 1]
    assert "three" not in (answer.choices[0].message.content or "")
    as_json = await oai.chat.completions.create(
        model="support-chat",
        messages=[{"role": "user", "content": "x"}],
        response_format={"type": "json_object"},
        extra_body=VARS,
    )
    assert isinstance(json.loads(as_json.choices[0].message.content or ""), dict)


async def test_pinned_reference_bypasses_aliases(
    admin: httpx.AsyncClient, oai: openai.AsyncOpenAI
) -> None:
    bundle = await push(admin, fake_spec())
    for model in ("support-chat@1", f"support-chat@{bundle['digest']}"):
        raw = await oai.chat.completions.with_raw_response.create(
            model=model, messages=[{"role": "user", "content": "x"}], extra_body=VARS
        )
        assert raw.headers["x-pinyard-route"] == "pinned"
        assert raw.headers["x-pinyard-bundle"] == "support-chat@1"


async def test_unknown_alias_is_model_not_found(oai: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as err:
        await oai.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])
    assert err.value.code == "model_not_found"
    assert "'nope' is not an alias in environment 'dev'" in err.value.message


@pytest.mark.parametrize(
    ("variables", "needle", "param"),
    [
        ({}, "customer_name", "variables.customer_name"),
        ({"customer_name": 5}, "is not of type 'string'", "variables.customer_name"),
        ("text", "must be a JSON object", "variables"),
    ],
)
async def test_bad_variables_are_400(
    admin: httpx.AsyncClient, oai: openai.AsyncOpenAI, variables: Any, needle: str, param: str
) -> None:
    await push(admin, fake_spec())
    await set_alias(admin, "dev", "support-chat", "support-chat@1")
    with pytest.raises(openai.BadRequestError) as err:
        await oai.chat.completions.create(
            model="support-chat",
            messages=[{"role": "user", "content": "x"}],
            extra_body={"variables": variables},
        )
    assert needle in err.value.message
    assert err.value.param == param
    assert err.value.response.headers["x-pinyard-bundle"] == "support-chat@1"


async def test_malformed_bodies_are_400(admin: httpx.AsyncClient) -> None:
    bad = await admin.post(
        "/v1/chat/completions", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert bad.status_code == 400 and "not valid JSON" in bad.json()["error"]["message"]
    no_messages = await admin.post("/v1/chat/completions", json={"model": "x"})
    assert no_messages.json()["error"]["param"] == "messages"


async def test_alias_flip_under_traffic(admin: httpx.AsyncClient, oai: openai.AsyncOpenAI) -> None:
    await push(admin, fake_spec())
    v2 = await push(admin, fake_spec(params={"temperature": 0.9}))
    await set_alias(admin, "dev", "support-chat", "support-chat@1")
    seen: list[tuple[bool, str]] = []
    flipped = asyncio.Event()
    failures = 0

    async def client() -> None:
        """Send until the flip, then 20 more; bounded either way."""
        nonlocal failures
        after = 0
        for _ in range(2000):
            after_flip = flipped.is_set()
            try:
                raw = await oai.chat.completions.with_raw_response.create(
                    model="support-chat",
                    messages=[{"role": "user", "content": "x"}],
                    extra_body=VARS,
                )
            except openai.APIError:
                failures += 1
                continue
            seen.append((after_flip, raw.headers["x-pinyard-bundle-digest"]))
            after += after_flip
            # In-process transport: pause so the flip can run. Its admin call works in a
            # thread, whose every SQLite call waits for the GIL while the loop is busy
            # (up to 5 ms each): a loop that never idles holds it off for seconds.
            await asyncio.sleep(0.005)
            if after >= 20:
                return

    async def flip() -> None:
        while len(seen) < 10:  # traffic is flowing before the flip
            await asyncio.sleep(0.005)
        await set_alias(admin, "dev", "support-chat", "support-chat@2")
        flipped.set()

    await asyncio.wait_for(asyncio.gather(client(), client(), flip()), timeout=60)
    assert failures == 0
    assert sum(after for after, _ in seen) == 40
    assert all(digest == v2["digest"] for after, digest in seen if after)
    assert any(not after for after, _ in seen)
