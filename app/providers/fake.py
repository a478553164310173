"""A deterministic, offline provider for ``fake/<anything>`` models.

It lets the quickstart, the evals and the test-suite exercise the whole
pipeline (tools, structured output, streaming, usage, n, stop, max_tokens)
without network or keys, and it answers in exactly the OpenAI wire shapes the
real providers produce so nothing downstream special-cases it.

Three model families simulate trouble: ``fake/error-<status>`` fails the way an
upstream answering HTTP ``<status>`` would (``fake/error-429`` carries
``retry_after`` 1s), ``fake/slow-<ms>`` waits before answering, and
``fake/flaky-<percent>`` fails (HTTP 503) on that share of requests, chosen by a
hash of the model and the messages: the same request always fails or always
succeeds, retries included, like a real regression on some inputs.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import math
import re
import struct
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from app.errors import BadRequestError
from app.providers.interface import EmbeddingCall, ProviderCall
from app.providers.schema_instance import minimal_instance
from app.providers.upstream_errors import error_for_status

FAKE_PREFIX = "fake/"
DEFAULT_DIMENSIONS = 16
_ERROR_MODEL = re.compile(r"^fake/error-(\d{3})$")
_SLOW_MODEL = re.compile(r"^fake/slow-(\d+)$")
_FLAKY_MODEL = re.compile(r"^fake/flaky-(\d{1,3})$")
_PIECE = re.compile(r"\s*\S+\s*$|\s*\S+")


@dataclass(frozen=True, slots=True)
class _Choice:
    content: str | None
    tool_call: dict[str, Any] | None
    finish_reason: str


class FakeProvider:
    """Implements ``app.providers.interface.Provider`` for ``fake/`` models."""

    async def complete(self, call: ProviderCall) -> dict[str, Any]:
        await _simulate(call.model, call.messages)
        choices = _choices(call)
        return {
            **_envelope(call, "chat.completion"),
            "choices": [
                {
                    "index": i,
                    "message": {
                        "role": "assistant",
                        "content": c.content,
                        **({"tool_calls": [c.tool_call]} if c.tool_call else {}),
                        "refusal": None,
                    },
                    "finish_reason": c.finish_reason,
                    "logprobs": None,
                }
                for i, c in enumerate(choices)
            ],
            "usage": _usage(call, choices),
        }

    async def stream(self, call: ProviderCall) -> AsyncIterator[dict[str, Any]]:
        await _simulate(call.model, call.messages)
        choices = _choices(call)
        options = call.params.get("stream_options") or {}
        include_usage = bool(options.get("include_usage"))
        head = _envelope(call, "chat.completion.chunk")
        tail = {"usage": None} if include_usage else {}

        def chunk(index: int, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            choice = {"index": index, "delta": delta, "finish_reason": finish, "logprobs": None}
            return {**head, "choices": [choice], **tail}

        for i, c in enumerate(choices):
            if c.tool_call is not None:
                function = c.tool_call["function"]
                opening = {**c.tool_call, "index": 0, "function": {**function, "arguments": ""}}
                yield chunk(i, {"role": "assistant", "content": None, "tool_calls": [opening]})
                for piece in _pieces(function["arguments"]):
                    call_delta = {"index": 0, "function": {"arguments": piece}}
                    yield chunk(i, {"tool_calls": [call_delta]})
            else:
                yield chunk(i, {"role": "assistant", "content": ""})
                for piece in _pieces(c.content or ""):
                    yield chunk(i, {"content": piece})
            yield chunk(i, {}, c.finish_reason)
            await asyncio.sleep(0)
        if include_usage:
            yield {**head, "choices": [], "usage": _usage(call, choices)}

    async def embed(self, call: EmbeddingCall) -> dict[str, Any]:
        await _simulate(call.model, call.input)
        items = _embedding_inputs(call.input)
        dimensions = int(call.params.get("dimensions") or DEFAULT_DIMENSIONS)
        if dimensions < 1:
            raise BadRequestError("dimensions must be at least 1", param="dimensions")
        as_base64 = call.params.get("encoding_format") == "base64"
        data = []
        for index, item in enumerate(items):
            vector = _unit_vector(item, dimensions)
            embedding: list[float] | str = vector
            if as_base64:
                packed = struct.pack(f"<{dimensions}f", *vector)
                embedding = base64.b64encode(packed).decode()
            data.append({"object": "embedding", "index": index, "embedding": embedding})
        tokens = sum(len(i) if isinstance(i, list) else _count(i) for i in items)
        return {
            "object": "list",
            "data": data,
            "model": call.model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }


async def _simulate(model: str, content: Any) -> None:
    """Apply the ``fake/error-<status>``, ``fake/slow-<ms>`` and ``fake/flaky-<%>`` behaviours."""
    if match := _FLAKY_MODEL.match(model):
        share = int(_digest([model, content])[:8], 16) % 10_000 / 100  # in [0, 100)
        if share < int(match.group(1)):
            raise error_for_status(503, f"simulated by {model} (this request always fails)")
    if match := _SLOW_MODEL.match(model):
        await asyncio.sleep(int(match.group(1)) / 1000)
    if match := _ERROR_MODEL.match(model):
        status = int(match.group(1))
        retry_after = 1.0 if status == 429 else None
        raise error_for_status(status, f"simulated by {model}", retry_after=retry_after)


def _envelope(call: ProviderCall, kind: str) -> dict[str, Any]:
    digest = _digest({"model": call.model, "messages": call.messages, "params": call.params})
    return {
        "id": f"chatcmpl-fake-{digest[:24]}",
        "object": kind,
        "created": int(time.time()),
        "model": call.model,
        "system_fingerprint": "fake",
    }


def _choices(call: ProviderCall) -> list[_Choice]:
    if not call.messages:
        raise BadRequestError("messages must not be empty", param="messages")
    params = call.params
    n = params.get("n") or 1
    if not isinstance(n, int) or n < 1:
        raise BadRequestError("n must be a positive integer", param="n")
    last = call.messages[-1]
    tool = _chosen_tool(params) if last.get("role") != "tool" else None
    if tool is not None:
        arguments = json.dumps(minimal_instance(tool.get("parameters") or {"type": "object"}))
        call_id = "call_fake_" + _digest([call.model, tool["name"], call.messages])[:24]
        tool_call = {
            "id": call_id,
            "type": "function",
            "function": {"name": tool["name"], "arguments": arguments},
        }
        return [_Choice(None, tool_call, "tool_calls")] * n
    if last.get("role") == "tool":
        text = f"[{call.model}] tool result: {_text(last.get('content'))}"
    else:
        users = [m for m in call.messages if m.get("role") == "user"]
        text = f"[{call.model}] {_text(users[-1].get('content')) if users else ''}".rstrip()
    formatted = _formatted(text, params.get("response_format"))
    if formatted is not None:
        return [_Choice(formatted, None, "stop")] * n
    text, finish = _truncate(text, params)
    return [_Choice(text, None, finish)] * n


def _chosen_tool(params: dict[str, Any]) -> dict[str, Any] | None:
    """The function the fake calls, or None when tools are absent or switched off."""
    functions = [
        t["function"] for t in params.get("tools") or [] if t.get("type", "function") == "function"
    ]
    choice = params.get("tool_choice")
    if not functions or choice == "none":
        return None
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        for function in functions:
            if function.get("name") == name:
                return dict(function)
        raise BadRequestError(f"tool_choice names unknown tool {name!r}", param="tool_choice")
    return dict(functions[0])


def _formatted(text: str, response_format: Any) -> str | None:
    """The JSON answer for ``response_format``, or None for plain text."""
    if not isinstance(response_format, dict):
        return None
    kind = response_format.get("type")
    if kind == "json_object":
        return json.dumps({"answer": text})
    if kind == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema") or {}
        return json.dumps(minimal_instance(schema))
    return None


def _truncate(text: str, params: dict[str, Any]) -> tuple[str, str]:
    """Cut at the first stop string, then at max tokens (whitespace tokens)."""
    finish = "stop"
    stop = params.get("stop")
    stops = [stop] if isinstance(stop, str) else list(stop or [])
    hits = [text.find(s) for s in stops if s and s in text]
    if hits:
        text = text[: min(hits)]
    limit = params.get("max_completion_tokens", params.get("max_tokens"))
    if limit is not None:
        if not isinstance(limit, int) or limit < 1:
            raise BadRequestError("max_tokens must be a positive integer", param="max_tokens")
        words = list(re.finditer(r"\S+", text))
        if len(words) > limit:
            text, finish = text[: words[limit - 1].end()], "length"
    return text, finish


def _usage(call: ProviderCall, choices: list[_Choice]) -> dict[str, int]:
    prompt = sum(_count(_text(m.get("content"))) for m in call.messages)
    completion = sum(
        _count(c.tool_call["function"]["arguments"] if c.tool_call else c.content or "")
        for c in choices
    )
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _text(content: Any) -> str:
    """Message content as text: a string, or the text parts of a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text", "") for p in content if isinstance(p, dict) and "text" in p]
        return " ".join(str(p) for p in parts)
    return ""


def _pieces(text: str) -> list[str]:
    """Word-sized pieces that concatenate back to ``text`` exactly."""
    return _PIECE.findall(text) or ([text] if text else [])


def _count(text: str) -> int:
    return len(text.split())


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def _embedding_inputs(value: Any) -> list[str | list[int]]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, int) for v in value):
        return [list(value)]
    if isinstance(value, list) and value and all(isinstance(v, str | list) for v in value):
        return list(value)
    raise BadRequestError("input must be a non-empty string, list or token list", param="input")


def _unit_vector(item: str | list[int], dimensions: int) -> list[float]:
    seed = json.dumps(item).encode()
    raw = b"".join(
        hashlib.sha256(counter.to_bytes(4, "big") + seed).digest()
        for counter in range(math.ceil(dimensions * 4 / 32))
    )
    values = [(v / 2**31) - 1.0 for v in struct.unpack(f">{dimensions}I", raw[: dimensions * 4])]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [v / norm for v in values]
