"""Malformed request bodies: 400 in the OpenAI envelope, ``param`` named, nothing run.

Before the shapes were checked up front, ``tools: "x"``, ``stop: 7`` and
``stream_options: "x"`` reached a ``.get()`` on a string and answered 500.
"""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest
import respx
from pydantic import BaseModel

from app.main import create_app
from app.settings import Settings
from tests.conftest import BASE, fake_spec, make_settings, push, set_alias, wait_for_record
from tests.gateway.conftest import completion, openai_spec

VARS = {"customer_name": "Ada"}
HI = [{"role": "user", "content": "hi"}]
FUNCTION = {"type": "function", "function": {"name": "order_status"}}


def chat(**fields: Any) -> dict[str, Any]:
    return {"model": "support-chat", "messages": HI, "variables": VARS, **fields}


BAD_CHAT: list[tuple[dict[str, Any], str, str]] = [
    # the three that used to be 500
    (chat(tools="x"), "tools", "must be an array"),
    (chat(stop=7), "stop", "must be a string or an array"),
    (chat(stream=True, stream_options="x"), "stream_options", "must be an object"),
    # messages
    (chat(messages=[]), "messages", "must not be empty"),
    (chat(messages="hi"), "messages", "must be an array"),
    (chat(messages=["hi"]), "messages[0]", "must be an object"),
    (chat(messages=[{"role": "wizard", "content": "x"}]), "messages[0].role", "'user'"),
    (chat(messages=[{"content": "x"}]), "messages[0].role", "required"),
    (chat(messages=[{"role": "user"}]), "messages[0].content", "required"),
    (chat(messages=[{"role": "user", "content": 5}]), "messages[0].content", "a string or"),
    (
        chat(messages=[{"role": "user", "content": [{"type": "video", "url": "x"}]}]),
        "messages[0].content[0].type",
        "'image_url'",
    ),
    (
        chat(messages=[{"role": "user", "content": [{"type": "text"}]}]),
        "messages[0].content[0].text",
        "required",
    ),
    (
        chat(messages=[{"role": "user", "content": [{"type": "image_url", "image_url": "x"}]}]),
        "messages[0].content[0].image_url",
        "must be an object",
    ),
    (chat(messages=[{"role": "tool", "content": "ok"}]), "messages[0].tool_call_id", "required"),
    (
        chat(messages=[{"role": "assistant", "tool_calls": [{"id": "c1", "type": "function"}]}]),
        "messages[0].tool_calls[0].function",
        "required",
    ),
    # tools and tool_choice
    (chat(tools=[{"type": "function"}]), "tools[0].function", "required"),
    (chat(tools=[{"type": "plugin"}]), "tools[0].type", "'function'"),
    (
        chat(tools=[{"type": "function", "function": {"name": "f", "parameters": {"type": 7}}}]),
        "tools[0].function.parameters",
        "not a valid JSON Schema",
    ),
    (chat(tools=[FUNCTION], tool_choice="maybe"), "tool_choice", "'required'"),
    (chat(tools=[FUNCTION], tool_choice={"type": "function"}), "tool_choice.function", "required"),
    # response_format
    (chat(response_format="json"), "response_format", "must be an object"),
    (chat(response_format={"type": "xml"}), "response_format.type", "'json_schema'"),
    (
        chat(response_format={"type": "json_schema"}),
        "response_format.json_schema",
        "required",
    ),
    (
        chat(
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": {"type": "object", "required": 5}},
            }
        ),
        "response_format.json_schema.schema",
        "not a valid JSON Schema",
    ),
    (
        chat(response_format={"type": "json_schema", "json_schema": {"name": "has space"}}),
        "response_format.json_schema.name",
        "pattern",
    ),
    # numbers
    (chat(max_tokens=-1), "max_tokens", "greater than or equal to 1"),
    (chat(max_tokens=10**12), "max_tokens", "less than or equal to 1000000"),
    (chat(max_tokens="100"), "max_tokens", "must be an integer"),
    (chat(max_completion_tokens=0), "max_completion_tokens", "greater than or equal to 1"),
    (chat(n=9), "n", "PINYARD_MAX_N"),
    (chat(n=0), "n", "greater than or equal to 1"),
    (chat(temperature="hot"), "temperature", "must be a number"),
    (chat(temperature=3), "temperature", "less than or equal to 2"),
    (chat(stream="yes"), "stream", "must be a boolean"),
    # the model
    ({"messages": HI}, "model", "required"),
    (chat(model=""), "model", "must not be empty"),
    (chat(model=7), "model", "must be a string"),
]


@pytest.mark.parametrize(("body", "param", "needle"), BAD_CHAT)
async def test_malformed_chat_bodies_are_400_naming_the_param(
    admin: httpx.AsyncClient,
    upstream: respx.MockRouter,
    body: dict[str, Any],
    param: str,
    needle: str,
) -> None:
    route = upstream.post("/chat/completions").respond(json=completion())
    await push(admin, openai_spec(client_params=["max_tokens", "n", "stop", "temperature"]))
    await set_alias(admin, "dev", "support-chat", "support-chat@1")
    answer = await admin.post("/v1/chat/completions", json=body)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert needle in error["message"]
    assert answer.headers["x-pinyard-request-id"].startswith("req_")
    assert not route.called  # refused before anything ran


async def test_the_openai_sdk_sees_bad_request_with_param(
    admin: httpx.AsyncClient, oai: openai.AsyncOpenAI
) -> None:
    await push(admin, fake_spec(client_params=["max_tokens", "n"]))
    await set_alias(admin, "dev", "support-chat", "support-chat@1")
    with pytest.raises(openai.BadRequestError) as err:
        await oai.chat.completions.create(
            model="support-chat", messages=[], extra_body={"variables": VARS}
        )
    assert err.value.param == "messages"
    with pytest.raises(openai.BadRequestError) as err:
        await oai.chat.completions.create(
            model="support-chat", messages=HI, n=20, extra_body={"variables": VARS}
        )
    assert err.value.param == "n" and "at most 8" in err.value.message
    with pytest.raises(openai.BadRequestError) as err:
        await oai.chat.completions.create(
            model="support-chat",
            messages=HI,
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "order", "schema": {"type": "thing"}},
            },
            extra_body={"variables": VARS},
        )
    assert err.value.param == "response_format.json_schema.schema"
    record = await wait_for_record(admin, err.value.response.headers["x-pinyard-request-id"])
    assert record["status"] == 400 and "response_format" in record["error"]


class Order(BaseModel):
    order_id: str


async def test_well_formed_rich_bodies_still_pass(
    admin: httpx.AsyncClient, oai: openai.AsyncOpenAI
) -> None:
    """Every message role, content part, tool and format the shapes name, as the SDK sends them."""
    await push(admin, fake_spec(client_params=["max_tokens", "n", "stop", "temperature"]))
    await set_alias(admin, "dev", "support-chat", "support-chat@1")
    messages: list[Any] = [
        {"role": "developer", "content": [{"type": "text", "text": "be brief"}]},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "what is in this picture?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
            ],
            "name": "ada",
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "order_status", "arguments": '{"order_id": "7"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "shipped"},
        {"role": "user", "content": "thanks", "x-extra-field": "passes through"},
    ]
    tool: Any = {
        "type": "function",
        "function": {
            "name": "order_status",
            "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}},
        },
    }
    answer = await oai.chat.completions.create(
        model="support-chat",
        messages=messages,
        tools=[tool],
        tool_choice={"type": "function", "function": {"name": "order_status"}},
        stop=None,
        max_tokens=64,
        n=8,
        temperature=1,
        extra_body={"variables": VARS},
    )
    assert len(answer.choices) == 8
    parsed = await oai.chat.completions.parse(
        model="support-chat", messages=HI, response_format=Order, extra_body={"variables": VARS}
    )
    assert isinstance(parsed.choices[0].message.parsed, Order)
    stream = await oai.chat.completions.create(
        model="support-chat",
        messages=HI,
        stream=True,
        stream_options={"include_usage": True},
        extra_body={"variables": VARS},
    )
    assert [c async for c in stream][-1].usage is not None


async def test_the_cap_on_n_is_configured(settings: Settings) -> None:
    app = create_app(make_settings(settings, max_n=2, max_messages=3))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client,
    ):
        await client.post(
            "/admin/bundles",
            json=fake_spec(client_params=["n"]),
            headers={"Authorization": f"Bearer {settings.admin_token.get_secret_value()}"}
            if settings.admin_token
            else {},
        )
        ok = await client.post("/v1/chat/completions", json=chat(model="support-chat@1", n=2))
        assert ok.status_code == 200 and len(ok.json()["choices"]) == 2
        over = await client.post("/v1/chat/completions", json=chat(model="support-chat@1", n=3))
        assert over.status_code == 400 and "at most 2 choices" in over.json()["error"]["message"]
        many = await client.post(
            "/v1/chat/completions", json=chat(model="support-chat@1", messages=HI * 4)
        )
        assert many.status_code == 400
        assert many.json()["error"]["param"] == "messages"
        assert "PINYARD_MAX_MESSAGES" in many.json()["error"]["message"]


BAD_EMBEDDINGS: list[tuple[dict[str, Any], str, str]] = [
    ({"model": "docs-embed"}, "input", "required"),
    ({"model": "docs-embed", "input": ""}, "input", "must not be empty"),
    ({"model": "docs-embed", "input": []}, "input", "must not be empty"),
    ({"model": "docs-embed", "input": 5}, "input", "a string or an array"),
    ({"model": "docs-embed", "input": {"text": "x"}}, "input", "a string or an array"),
    ({"model": "docs-embed", "input": [[1], []]}, "input[1]", "must not be empty"),
    ({"model": "docs-embed", "input": "x", "dimensions": 0}, "dimensions", "greater than"),
    ({"model": "docs-embed", "input": "x", "encoding_format": "hex"}, "encoding_format", "'float'"),
    ({"input": "x"}, "model", "required"),
]


@pytest.mark.parametrize(("body", "param", "needle"), BAD_EMBEDDINGS)
async def test_malformed_embedding_bodies_are_400(
    admin: httpx.AsyncClient, body: dict[str, Any], param: str, needle: str
) -> None:
    await push(admin, {"name": "docs-embed", "kind": "embedding", "model": "fake/embed"})
    await set_alias(admin, "dev", "docs-embed", "docs-embed@1")
    answer = await admin.post("/v1/embeddings", json=body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["param"] == param
    assert needle in answer.json()["error"]["message"]
    assert "x-pinyard-request-id" in answer.headers


async def test_embeddings_of_every_input_shape_still_pass(
    admin: httpx.AsyncClient, oai: openai.AsyncOpenAI
) -> None:
    await push(admin, {"name": "docs-embed", "kind": "embedding", "model": "fake/embed"})
    await set_alias(admin, "dev", "docs-embed", "docs-embed@1")
    for value in ("one", ["one", "two"], [1, 2, 3], [[1, 2], [3]]):
        answer = await oai.embeddings.create(model="docs-embed", input=value)  # type: ignore[arg-type]
        assert answer.data
