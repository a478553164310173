"""The text a guardrail judges, and rewriting it without touching anything else.

Input checks see what the client controls: the text of its messages (string
contents and ``text`` parts) and every string in its ``variables``. Rewrites
copy; the client's body itself is never mutated.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Rewrite = Callable[[str], str]


def content_texts(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    if isinstance(content, list):
        return [
            p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)
        ]
    return []


def message_text(content: Any) -> str:
    return " ".join(content_texts(content))


def last_user_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            return message_text(message.get("content"))
    return ""


def input_texts(messages: list[dict[str, Any]], variables: dict[str, Any]) -> list[str]:
    texts = [text for m in messages for text in content_texts(m.get("content"))]
    return texts + _strings(variables)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


def rewrite_messages(messages: list[dict[str, Any]], rewrite: Rewrite) -> list[dict[str, Any]]:
    return [
        {**m, "content": _rewrite_content(m["content"], rewrite)} if "content" in m else m
        for m in messages
    ]


def _rewrite_content(content: Any, rewrite: Rewrite) -> Any:
    if isinstance(content, str):
        return rewrite(content)
    if isinstance(content, list):
        return [
            {**p, "text": rewrite(p["text"])}
            if isinstance(p, dict) and isinstance(p.get("text"), str)
            else p
            for p in content
        ]
    return content


def rewrite_strings(value: Any, rewrite: Rewrite) -> Any:
    """Every string inside ``value`` (variables are any JSON), rewritten."""
    if isinstance(value, str):
        return rewrite(value)
    if isinstance(value, dict):
        return {key: rewrite_strings(item, rewrite) for key, item in value.items()}
    if isinstance(value, list):
        return [rewrite_strings(item, rewrite) for item in value]
    return value
