"""The pure Anthropic <-> OpenAI translations, without a gateway."""

from __future__ import annotations

from typing import Any

import pytest

from app.errors import BadRequestError, PinyardError, ProviderError
from app.gateway import anthropic_wire as wire
from app.gateway.anthropic_stream import StreamTranslator, sse

TOOL = {
    "name": "get_order",
    "description": "Look an order up",
    "input_schema": {"type": "object", "properties": {"id": {"type": "string"}}},
}


def request(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "support-chat",
        "max_tokens": 64,
        "messages": [{"role": "user", "content": "hi"}],
    }
    body.update(overrides)
    return body


def test_request_fields_map_to_chat_completions() -> None:
    body = wire.to_openai_request(
        request(
            system=[{"type": "text", "text": "Be brief."}, {"type": "text", "text": "Be kind."}],
            tools=[TOOL],
            tool_choice={"type": "tool", "name": "get_order", "disable_parallel_tool_use": True},
            stop_sequences=["END"],
            metadata={"user_id": "customer-42"},
            temperature=0.5,
            top_k=5,
            variables={"customer_name": "Ada"},
            stream=True,
        )
    )
    assert body["messages"] == [
        {"role": "system", "content": "Be brief.\n\nBe kind."},
        {"role": "user", "content": "hi"},
    ]
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_order",
                "parameters": TOOL["input_schema"],
                "description": "Look an order up",
            },
        }
    ]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "get_order"}}
    assert body["parallel_tool_calls"] is False
    assert body["stop"] == ["END"] and body["user"] == "customer-42"
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    # Passed on untouched: the pipeline decides what the bundle allows and reports the rest.
    assert body["max_tokens"] == 64 and body["temperature"] == 0.5 and body["top_k"] == 5
    assert body["variables"] == {"customer_name": "Ada"}
    assert "metadata" not in body and "system" not in body and "stop_sequences" not in body


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ({"type": "auto"}, "auto"),
        ({"type": "any"}, "required"),
        ({"type": "none"}, "none"),
    ],
)
def test_tool_choice_forms(choice: dict[str, Any], expected: str) -> None:
    assert wire.openai_tool_choice(choice) == {"tool_choice": expected}


def test_tool_use_and_tool_result_become_tool_calls_and_tool_messages() -> None:
    messages = wire.chat_messages(
        [
            {"role": "user", "content": [{"type": "text", "text": "where is 7?"}]},
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Let me look."},
                    {"type": "tool_use", "id": "tu_1", "name": "get_order", "input": {"id": "7"}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "tu_1",
                        "content": [{"type": "text", "text": "shipped"}],
                    },
                    {"type": "text", "text": "thanks"},
                ],
            },
        ]
    )
    assert messages == [
        {"role": "user", "content": "where is 7?"},
        {
            "role": "assistant",
            "content": "Let me look.",
            "tool_calls": [
                {
                    "id": "tu_1",
                    "type": "function",
                    "function": {"name": "get_order", "arguments": '{"id": "7"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "tu_1", "content": "shipped"},
        {"role": "user", "content": "thanks"},
    ]


def test_images_become_image_url_parts() -> None:
    [message] = wire.chat_messages(
        [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "what is this?"},
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"},
                    },
                ],
            }
        ]
    )
    assert message["content"][1] == {
        "type": "image_url",
        "image_url": {"url": "data:image/png;base64,AAAA"},
    }


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"max_tokens": None}, "max_tokens"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"model": None}, "model"),
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "system", "content": "x"}]}, "messages.0.role"),
        (
            {"messages": [{"role": "user", "content": [{"type": "video", "url": "x"}]}]},
            "messages.0.content.0.type",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "tool_result", "tool_use_id": "tu_9", "content": ""}],
                    }
                ]
            },
            "messages.0.content.0.tool_use_id",
        ),
        ({"tool_choice": {"type": "sometimes"}}, "tool_choice.type"),
        ({"tools": [{"type": "web_search_20250305", "name": "web"}]}, "tools.0.type"),
        ({"stop_sequences": "END"}, "stop_sequences"),
    ],
)
def test_bad_input_names_the_field(body: dict[str, Any], param: str) -> None:
    with pytest.raises(BadRequestError) as err:
        wire.to_openai_request(request(**body))
    assert err.value.param == param
    assert err.value.message.startswith(param)


def test_completion_becomes_a_message() -> None:
    response = {
        "model": "gpt-4o-2024-11-20",
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "content": "Checking.",
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "get_order", "arguments": '{"id": "7"}'},
                        }
                    ],
                },
            }
        ],
        "usage": {"prompt_tokens": 11, "completion_tokens": 4, "total_tokens": 15},
    }
    message = wire.to_anthropic_message(response, message_id="msg_1", stops=[])
    assert message == {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "gpt-4o-2024-11-20",
        "content": [
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "call_1", "name": "get_order", "input": {"id": "7"}},
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 11, "output_tokens": 4},
    }


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ({"finish_reason": "stop"}, ("end_turn", None)),
        ({"finish_reason": "length"}, ("max_tokens", None)),
        ({"finish_reason": "tool_calls"}, ("tool_use", None)),
        ({"finish_reason": "content_filter"}, ("refusal", None)),
        ({"finish_reason": "stop", "stop_reason": "END"}, ("stop_sequence", "END")),
        ({"finish_reason": "stop", "stop_reason": "other"}, ("end_turn", None)),
    ],
)
def test_stop_reasons(choice: dict[str, Any], expected: tuple[str, str | None]) -> None:
    assert wire.stop_reason(choice, ["END"]) == expected


def test_tool_arguments_that_are_not_json_are_a_provider_error() -> None:
    with pytest.raises(ProviderError):
        wire.tool_input("{not json")


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (403, "permission_error"),
        (404, "not_found_error"),
        (409, "invalid_request_error"),
        (413, "request_too_large"),
        (429, "rate_limit_error"),
        (500, "api_error"),
        (502, "api_error"),
        (503, "api_error"),
        (504, "api_error"),
        (529, "overloaded_error"),
    ],
)
def test_error_types_by_status(status: int, kind: str) -> None:
    error = PinyardError("boom")
    error.status_code = status
    assert wire.error_body(error) == {"type": "error", "error": {"type": kind, "message": "boom"}}


def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def test_stream_translation_opens_and_closes_blocks_in_order() -> None:
    translator = StreamTranslator("msg_1", [])
    opening = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": ""}}
    events = translator.start("gpt-4o-2024-11-20")
    for part in [
        chunk({"role": "assistant", "content": ""}),
        chunk({"content": "Let "}),
        chunk({"content": "me."}),
        chunk({"tool_calls": [{"index": 0, **opening}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"a":'}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": " 1}"}}]}),
        chunk({}, "tool_calls"),
        {"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 3}},
    ]:
        events += translator.feed(part)
    events += translator.finish()
    assert [(e["type"], e.get("index")) for e in events] == [
        ("message_start", None),
        ("content_block_start", 0),
        ("content_block_delta", 0),
        ("content_block_delta", 0),
        ("content_block_stop", 0),
        ("content_block_start", 1),
        ("content_block_delta", 1),
        ("content_block_delta", 1),
        ("content_block_stop", 1),
        ("message_delta", None),
        ("message_stop", None),
    ]
    assert events[2]["delta"] == {"type": "text_delta", "text": "Let "}
    assert events[5]["content_block"] == {
        "type": "tool_use",
        "id": "call_1",
        "name": "f",
        "input": {},
    }
    assert events[6]["delta"] == {"type": "input_json_delta", "partial_json": '{"a":'}
    assert events[9]["delta"] == {"stop_reason": "tool_use", "stop_sequence": None}
    assert events[9]["usage"] == {"output_tokens": 3, "input_tokens": 9}
    assert sse(events[-1]) == b'event: message_stop\ndata: {"type":"message_stop"}\n\n'


def test_metadata_user_id_is_the_rollout_subject() -> None:
    from app.rollouts.assignment import subject_of

    body = wire.to_openai_request(request(metadata={"user_id": "customer-42"}))
    assert subject_of(body, {"x-api-key": "pk-anything"}) == "customer-42"
