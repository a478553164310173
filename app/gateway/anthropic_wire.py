"""Anthropic Messages API <-> the OpenAI chat-completions shapes the pipeline speaks.

Pure functions, no I/O. A ``/v1/messages`` request becomes a chat-completions
body so it runs through the very same pipeline (alias resolution, bundle
prompt, params policy, fallbacks, lineage); the OpenAI answer is turned back
into an Anthropic ``message``. Streams are translated in ``anthropic_stream``.
"""

from __future__ import annotations

import json
from typing import Any

from app.errors import BadRequestError, PinyardError, ProviderError
from app.gateway.request_shapes import MAX_OUTPUT_TOKENS

# Anthropic request fields translated here; any other field is passed on as is,
# so the pipeline drops it and names it in x-pinyard-ignored-params.
_TRANSLATED = frozenset(
    {"messages", "system", "tools", "tool_choice", "stop_sequences", "metadata", "stream"}
)
_FINISH_TO_STOP = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


def _bad(param: str, problem: str) -> BadRequestError:
    return BadRequestError(f"{param}: {problem}", param=param)


def check_common(body: dict[str, Any]) -> None:
    """The fields every Messages call needs (count_tokens too)."""
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise _bad("model", "Field required (an alias or a bundle reference)")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _bad("messages", "Field required (a non-empty list)")


def to_openai_request(body: dict[str, Any], *, count_only: bool = False) -> dict[str, Any]:
    """A Messages API request body as a chat-completions body (count_tokens: no max_tokens)."""
    check_common(body)
    max_tokens = body.get("max_tokens")
    if max_tokens is None and not count_only:
        raise _bad("max_tokens", "Field required")
    if max_tokens is not None and (
        not isinstance(max_tokens, int)
        or isinstance(max_tokens, bool)
        or not 1 <= max_tokens <= MAX_OUTPUT_TOKENS
    ):
        raise _bad("max_tokens", f"must be an integer from 1 to {MAX_OUTPUT_TOKENS}")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise _bad("stream", "must be a boolean")
    out: dict[str, Any] = {k: v for k, v in body.items() if k not in _TRANSLATED}
    out["messages"] = system_messages(body.get("system")) + chat_messages(body["messages"])
    if body.get("tools") is not None:
        out["tools"] = openai_tools(body["tools"])
    if body.get("tool_choice") is not None:
        out.update(openai_tool_choice(body["tool_choice"]))
    if body.get("stop_sequences") is not None:
        out["stop"] = stop_sequences(body["stop_sequences"])
    metadata = body.get("metadata")
    if metadata is not None:
        if not isinstance(metadata, dict):
            raise _bad("metadata", "must be an object")
        if metadata.get("user_id") is not None:
            out["user"] = str(metadata["user_id"])
    if stream:
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}
    return out


def system_messages(system: Any) -> list[dict[str, Any]]:
    if system is None:
        return []
    if isinstance(system, str):
        return [{"role": "system", "content": system}] if system else []
    if not isinstance(system, list):
        raise _bad("system", "must be a string or a list of text blocks")
    texts = []
    for i, block in enumerate(system):
        if not isinstance(block, dict) or block.get("type") != "text":
            raise _bad(f"system.{i}.type", "only text blocks are supported in system")
        texts.append(_text_of(block, f"system.{i}"))
    return [{"role": "system", "content": "\n\n".join(texts)}] if texts else []


def chat_messages(messages: list[Any]) -> list[dict[str, Any]]:
    """Anthropic turns as OpenAI messages: tool_use -> tool_calls, tool_result -> role tool."""
    out: list[dict[str, Any]] = []
    previous_tool_uses: set[str] = set()
    for i, message in enumerate(messages):
        where = f"messages.{i}"
        if not isinstance(message, dict):
            raise _bad(where, "must be an object with 'role' and 'content'")
        role, content = message.get("role"), message.get("content")
        if role not in ("user", "assistant"):
            raise _bad(f"{where}.role", "must be 'user' or 'assistant'")
        if isinstance(content, str):
            blocks: list[Any] = [{"type": "text", "text": content}]
        elif isinstance(content, list):
            blocks = content
        else:
            raise _bad(f"{where}.content", "must be a string or a list of content blocks")
        if role == "assistant":
            message_out, previous_tool_uses = _assistant(blocks, where)
            out.append(message_out)
        else:
            out.extend(_user(blocks, where, previous_tool_uses))
            previous_tool_uses = set()
    return out


def _assistant(blocks: list[Any], where: str) -> tuple[dict[str, Any], set[str]]:
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for j, block in enumerate(blocks):
        kind = _block_type(block, f"{where}.content.{j}")
        if kind == "text":
            texts.append(_text_of(block, f"{where}.content.{j}"))
        elif kind == "tool_use":
            call_id, name = block.get("id"), block.get("name")
            if not isinstance(call_id, str) or not isinstance(name, str):
                raise _bad(f"{where}.content.{j}", "a tool_use block needs 'id' and 'name'")
            arguments = json.dumps(block.get("input") or {}, ensure_ascii=False)
            calls.append(
                {
                    "id": call_id,
                    "type": "function",
                    "function": {"name": name, "arguments": arguments},
                }
            )
        else:
            raise _bad(f"{where}.content.{j}.type", f"{kind!r} blocks are not accepted here")
    message: dict[str, Any] = {"role": "assistant"}
    if texts or not calls:  # OpenAI lets content go only when there are tool calls
        message["content"] = "".join(texts)
    if calls:
        message["tool_calls"] = calls
    return message, {c["id"] for c in calls}


def _user(blocks: list[Any], where: str, tool_uses: set[str]) -> list[dict[str, Any]]:
    """Tool results first (OpenAI wants them right after the calls), then the rest."""
    results: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for j, block in enumerate(blocks):
        at = f"{where}.content.{j}"
        kind = _block_type(block, at)
        if kind == "text":
            parts.append({"type": "text", "text": _text_of(block, at)})
        elif kind == "image":
            parts.append({"type": "image_url", "image_url": {"url": _image_url(block, at)}})
        elif kind == "tool_result":
            tool_use_id = block.get("tool_use_id")
            if tool_use_id not in tool_uses:
                raise _bad(
                    f"{at}.tool_use_id",
                    f"tool_result for {tool_use_id!r} has no matching tool_use block "
                    "in the previous assistant message",
                )
            content = _tool_result_text(block.get("content"), at)
            if block.get("is_error"):
                content = f"Error: {content}"
            results.append({"role": "tool", "tool_call_id": tool_use_id, "content": content})
        else:
            raise _bad(f"{at}.type", f"{kind!r} blocks are not accepted here")
    out = list(results)
    if len(parts) == 1 and parts[0]["type"] == "text":
        out.append({"role": "user", "content": parts[0]["text"]})
    elif parts:
        out.append({"role": "user", "content": parts})
    return out


def _block_type(block: Any, where: str) -> str:
    if not isinstance(block, dict) or not isinstance(block.get("type"), str):
        raise _bad(f"{where}.type", "each content block needs a 'type'")
    kind: str = block["type"]
    if kind not in ("text", "image", "tool_use", "tool_result"):
        raise _bad(
            f"{where}.type",
            f"unknown or unsupported content block type {kind!r} "
            "(supported: text, image, tool_use, tool_result)",
        )
    return kind


def _text_of(block: dict[str, Any], where: str) -> str:
    text = block.get("text")
    if not isinstance(text, str):
        raise _bad(f"{where}.text", "a text block needs a string 'text'")
    return text


def _image_url(block: dict[str, Any], where: str) -> str:
    source = block.get("source") or {}
    if source.get("type") == "base64" and source.get("media_type") and source.get("data"):
        return f"data:{source['media_type']};base64,{source['data']}"
    if source.get("type") == "url" and isinstance(source.get("url"), str):
        return str(source["url"])
    raise _bad(f"{where}.source", "an image needs a base64 or url source")


def _tool_result_text(content: Any, where: str) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise _bad(f"{where}.content", "must be a string or a list of text blocks")
    texts = []
    for k, block in enumerate(content):
        if not isinstance(block, dict) or block.get("type") != "text":
            raise _bad(f"{where}.content.{k}.type", "only text blocks are supported here")
        texts.append(_text_of(block, f"{where}.content.{k}"))
    return "\n".join(texts)


def openai_tools(tools: Any) -> list[dict[str, Any]]:
    if not isinstance(tools, list):
        raise _bad("tools", "must be a list")
    out = []
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
            raise _bad(f"tools.{i}.name", "each tool needs a 'name'")
        if tool.get("type") not in (None, "custom"):
            raise _bad(f"tools.{i}.type", f"server tools ({tool['type']!r}) are not supported")
        function: dict[str, Any] = {
            "name": tool["name"],
            "parameters": tool.get("input_schema") or {"type": "object", "properties": {}},
        }
        if tool.get("description"):
            function["description"] = tool["description"]
        out.append({"type": "function", "function": function})
    return out


def openai_tool_choice(choice: Any) -> dict[str, Any]:
    """``tool_choice`` (and ``parallel_tool_calls``) in OpenAI's form."""
    if not isinstance(choice, dict):
        raise _bad("tool_choice", "must be an object with a 'type'")
    kind = choice.get("type")
    forms: dict[str, Any] = {"auto": "auto", "any": "required", "none": "none"}
    if kind == "tool":
        if not isinstance(choice.get("name"), str):
            raise _bad("tool_choice.name", "Field required for type 'tool'")
        value: Any = {"type": "function", "function": {"name": choice["name"]}}
    elif kind in forms:
        value = forms[kind]
    else:
        raise _bad("tool_choice.type", "must be one of auto, any, tool, none")
    out = {"tool_choice": value}
    if choice.get("disable_parallel_tool_use") and kind != "none":
        out["parallel_tool_calls"] = False
    return out


def stop_sequences(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise _bad("stop_sequences", "must be a list of strings")
    return list(value)


def stop_reason(choice: dict[str, Any], stops: list[str]) -> tuple[str, str | None]:
    """Anthropic's ``stop_reason`` and ``stop_sequence`` for an OpenAI choice.

    OpenAI's ``stop`` covers both a natural end and a stop string; only an
    upstream that names the matched string (vLLM's ``stop_reason``) tells them apart.
    """
    finish = choice.get("finish_reason")
    matched = choice.get("stop_reason")
    if finish == "stop" and isinstance(matched, str) and matched in stops:
        return "stop_sequence", matched
    return _FINISH_TO_STOP.get(finish or "stop", "end_turn"), None


def usage(openai_usage: dict[str, Any] | None) -> dict[str, int]:
    openai_usage = openai_usage or {}
    return {
        "input_tokens": int(openai_usage.get("prompt_tokens") or 0),
        "output_tokens": int(openai_usage.get("completion_tokens") or 0),
    }


def tool_input(arguments: str | None) -> dict[str, Any]:
    try:
        value = json.loads(arguments or "{}")
    except json.JSONDecodeError as exc:
        raise ProviderError("the upstream returned tool-call arguments that are not JSON") from exc
    if not isinstance(value, dict):
        raise ProviderError("the upstream returned tool-call arguments that are not an object")
    return value


def to_anthropic_message(
    response: dict[str, Any], *, message_id: str, stops: list[str]
) -> dict[str, Any]:
    """An OpenAI ``chat.completion`` as an Anthropic ``message`` (the first choice)."""
    choices = response.get("choices") or [{}]
    choice = choices[0]
    message = choice.get("message") or {}
    content: list[dict[str, Any]] = []
    if message.get("content"):
        content.append({"type": "text", "text": message["content"]})
    for call in message.get("tool_calls") or []:
        function = call.get("function") or {}
        content.append(
            {
                "type": "tool_use",
                "id": call.get("id"),
                "name": function.get("name"),
                "input": tool_input(function.get("arguments")),
            }
        )
    reason, sequence = stop_reason(choice, stops)
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": response.get("model"),
        "content": content,
        "stop_reason": reason,
        "stop_sequence": sequence,
        "usage": usage(response.get("usage")),
    }


def message_id(request_id: str) -> str:
    """The Anthropic message id, derived from the request id so they correlate."""
    return "msg_" + request_id.removeprefix("req_")


def error_type(status: int) -> str:
    if status in _ERROR_TYPES:
        return _ERROR_TYPES[status]
    return "invalid_request_error" if status < 500 else "api_error"


def error_body(exc: PinyardError) -> dict[str, Any]:
    """Anthropic's error envelope, with the request id when one was assigned."""
    body: dict[str, Any] = {
        "type": "error",
        "error": {"type": error_type(exc.status_code), "message": exc.message},
    }
    request_id = exc.headers.get("x-pinyard-request-id")
    if request_id:
        body["request_id"] = request_id
    return body
