"""How a candidate's shadow answer differs from the answer the client got.

Measures, not judgements: exact match, text similarity (rapidfuzz's normalised
Indel ratio, 0..1), JSON equality and JSON shape equality (same keys and value
types, whatever the values) when both answers are JSON, the length ratio, and
latency and token deltas. Whether a pair *agrees* is decided at analysis time
with the rollout's own threshold (``agrees``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from rapidfuzz import fuzz

MAX_TEXT = 4000  # characters of each answer kept in a pair


@dataclass(frozen=True, slots=True)
class Answer:
    """One side of a pair: what came back, how fast, at what cost."""

    ok: bool
    text: str | None
    latency_ms: float
    tokens: int | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Comparison:
    exact_match: bool
    similarity: float | None
    json_equal: bool | None
    json_shape_equal: bool | None
    length_ratio: float | None
    latency_delta_ms: float
    token_delta: int | None


def answer_text(response: Any) -> str | None:
    """The first choice's text (tool calls as JSON) of a completion or a list of chunks."""
    if isinstance(response, dict):
        choices = response.get("choices") or []
        if not choices:
            return None
        message = choices[0].get("message") or {}
        if message.get("content") is not None:
            return str(message["content"])
        calls = message.get("tool_calls")
        return orjson.dumps(calls).decode() if calls else None
    if isinstance(response, list):  # streamed chunks
        parts: list[str] = []
        for chunk in response:
            for choice in chunk.get("choices") or []:
                if choice.get("index", 0) == 0:
                    content = (choice.get("delta") or {}).get("content")
                    if content:
                        parts.append(str(content))
        return "".join(parts)
    return None


def usage_tokens(usage: Any) -> int | None:
    if isinstance(usage, dict) and isinstance(usage.get("total_tokens"), int):
        return int(usage["total_tokens"])
    return None


def compare(primary: Answer, candidate: Answer) -> Comparison:
    token_delta = (
        candidate.tokens - primary.tokens
        if primary.tokens is not None and candidate.tokens is not None
        else None
    )
    latency_delta = round(candidate.latency_ms - primary.latency_ms, 3)
    if not (primary.ok and candidate.ok) or primary.text is None or candidate.text is None:
        return Comparison(False, None, None, None, None, latency_delta, token_delta)
    a, b = primary.text, candidate.text
    left, right = _json(a), _json(b)
    both_json = left is not _NOT_JSON and right is not _NOT_JSON
    return Comparison(
        exact_match=a == b,
        similarity=round(fuzz.ratio(a, b) / 100, 4),
        json_equal=(left == right) if both_json else None,
        json_shape_equal=(_shape(left) == _shape(right)) if both_json else None,
        length_ratio=round(len(b) / len(a), 4) if a else None,
        latency_delta_ms=latency_delta,
        token_delta=token_delta,
    )


def agrees(
    exact_match: bool, json_equal: bool | None, similarity: float | None, threshold: float
) -> bool:
    return exact_match or bool(json_equal) or (similarity is not None and similarity >= threshold)


def clip(text: str | None) -> str | None:
    return None if text is None else text[:MAX_TEXT]


_NOT_JSON = object()


def _json(text: str) -> Any:
    stripped = text.strip()
    if not stripped.startswith(("{", "[")):
        return _NOT_JSON
    try:
        return orjson.loads(stripped)
    except orjson.JSONDecodeError:
        return _NOT_JSON


def _shape(value: Any) -> Any:
    """Keys and value types, recursively; list items by the shapes they take."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return ["list", sorted({repr(_shape(item)) for item in value})]
    if isinstance(value, bool) or value is None:
        return type(value).__name__
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__
