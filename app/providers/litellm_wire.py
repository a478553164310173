"""litellm response objects -> the plain OpenAI wire dicts the gateway returns.

litellm's ``model_dump()`` is close to OpenAI's shape but not equal: it adds
``provider_specific_fields`` (and hides ``refusal`` inside it), fills deltas
with ``null`` fields OpenAI never sends, attaches a computed ``cost`` to usage
and sends the ``include_usage`` chunk with a choice instead of ``choices: []``.
These functions undo that so every client sees what OpenAI would have sent.

For OpenAI-compatible upstreams served through the OpenAI SDK the stream is
taken from the SDK's own chunk objects (``raw_chunk``): litellm's stream
wrapper rewrites ``model``/``created``, drops finish chunks of choices other
than the first when ``n > 1``, and turns an upstream error event into a normal
``finish_reason: "stop"``.
"""

from __future__ import annotations

from typing import Any

# litellm-only keys dropped whenever they are empty.
_EMPTY_EXTRAS = frozenset({"moderation", "citations", "service_tier", "provider_specific_fields"})
_MESSAGE_KEEP = frozenset({"role", "content", "refusal"})


def completion_dict(response: Any) -> dict[str, Any]:
    """A litellm ``ModelResponse`` as an OpenAI ``chat.completion`` dict."""
    data: dict[str, Any] = response.model_dump(warnings=False)
    data.pop("provider_specific_fields", None)
    _drop_empty_extras(data)
    for choice in data.get("choices") or []:
        choice.pop("provider_specific_fields", None)
        choice.setdefault("logprobs", None)
        message = choice.get("message") or {}
        hidden = message.pop("provider_specific_fields", None) or {}
        message.setdefault("refusal", hidden.get("refusal"))
        for key in [k for k, v in message.items() if v is None and k not in _MESSAGE_KEEP]:
            del message[key]
        for tool_call in message.get("tool_calls") or []:
            tool_call.pop("index", None)  # a streaming-only field
    if data.get("usage"):
        data["usage"] = _clean_usage(data["usage"])
    return data


def raw_chunk(chunk: Any) -> dict[str, Any]:
    """An OpenAI SDK ``ChatCompletionChunk``: exactly the fields the upstream sent."""
    data: dict[str, Any] = chunk.model_dump(exclude_unset=True)
    return data


def wrapped_chunk(chunk: Any, *, include_usage: bool) -> dict[str, Any]:
    """A chunk from litellm's stream wrapper (non-OpenAI upstreams) in OpenAI's shape."""
    data: dict[str, Any] = chunk.model_dump(warnings=False)
    data.pop("provider_specific_fields", None)
    _drop_empty_extras(data)
    choices = data.get("choices") or []
    for choice in choices:
        choice.pop("provider_specific_fields", None)
        choice.setdefault("logprobs", None)
        delta = {
            k: v
            for k, v in (choice.get("delta") or {}).items()
            if v is not None and k != "provider_specific_fields"
        }
        if "tool_calls" in delta:
            delta["tool_calls"] = [_clean_tool_call_delta(t) for t in delta["tool_calls"]]
        choice["delta"] = delta
    usage = data.get("usage")
    if usage:
        data["usage"] = _clean_usage(usage)
        if all(not c["delta"] and c.get("finish_reason") is None for c in choices):
            data["choices"] = []  # OpenAI's include_usage chunk carries no choice
    elif include_usage:
        data["usage"] = None
    else:
        data.pop("usage", None)
    return data


def embedding_dict(response: Any) -> dict[str, Any]:
    """A litellm ``EmbeddingResponse`` as an OpenAI embeddings ``list`` dict."""
    data: dict[str, Any] = response.model_dump(warnings=False)
    usage = data.get("usage") or {}
    prompt = int(usage.get("prompt_tokens") or 0)
    data["usage"] = {"prompt_tokens": prompt, "total_tokens": int(usage.get("total_tokens") or 0)}
    data.setdefault("object", "list")
    return data


def _drop_empty_extras(data: dict[str, Any]) -> None:
    for key in _EMPTY_EXTRAS:
        if key in data and not data[key]:
            del data[key]


def _clean_tool_call_delta(tool_call: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in tool_call.items() if v is not None}
    if out.get("id") is None:
        out.pop("type", None)  # OpenAI names the type only on a call's first delta
    if isinstance(out.get("function"), dict):
        out["function"] = {k: v for k, v in out["function"].items() if v is not None}
    return out


def _clean_usage(usage: dict[str, Any]) -> dict[str, Any]:
    """Usage without litellm's computed ``cost`` and without null details."""
    out: dict[str, Any] = {}
    for key, value in usage.items():
        if key == "cost" or value is None:
            continue
        out[key] = _clean_usage(value) if isinstance(value, dict) else value
    return out
