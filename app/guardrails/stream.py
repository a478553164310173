"""Output guardrails on a streamed answer: buffer, assemble, check, then release.

A bundle with output guardrails does not stream its answer live: the chunks
are held until the upstream stream ends, the text of each choice is assembled
and checked, and only then are the chunks released, rewritten when a check
redacted. A blocking check raises ``GuardrailBlocked`` before anything of the
answer was sent, so the gateway ends the stream with an error event. Without
output guardrails nothing is held and this module is not involved.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from app.guardrails.apply import CompiledGuardrails, run_output
from app.guardrails.check import Outcome

Chunk = dict[str, Any]


async def guarded_stream(
    guardrails: CompiledGuardrails, chunks: AsyncIterator[Chunk], outcomes: list[Outcome]
) -> AsyncIterator[Chunk]:
    held = [chunk async for chunk in chunks]
    assembled = _assemble(held)
    indices = sorted(assembled)
    texts: list[str | None] = [assembled[i] for i in indices]
    checked = run_output(guardrails, texts, outcomes)
    changed = {
        i: text for i, text, before in zip(indices, checked, texts, strict=True) if text != before
    }
    sent: set[int] = set()
    for chunk in held:
        yield _rewrite(chunk, changed, sent) if changed else chunk


def _assemble(chunks: list[Chunk]) -> dict[int, str]:
    """The text of each choice; a choice that only called tools has none."""
    parts: dict[int, list[str]] = {}
    for chunk in chunks:
        for choice in chunk.get("choices") or []:
            content = (choice.get("delta") or {}).get("content")
            if isinstance(content, str):
                parts.setdefault(int(choice.get("index", 0)), []).append(content)
    return {index: "".join(pieces) for index, pieces in parts.items()}


def _rewrite(chunk: Chunk, changed: dict[int, str | None], sent: set[int]) -> Chunk:
    """The first content delta of a rewritten choice carries its whole new text."""
    choices = []
    for choice in chunk.get("choices") or []:
        index = int(choice.get("index", 0))
        delta = choice.get("delta") or {}
        if index in changed and isinstance(delta.get("content"), str):
            text = "" if index in sent else (changed[index] or "")
            sent.add(index)
            choice = {**choice, "delta": {**delta, "content": text}}
        choices.append(choice)
    return {**chunk, "choices": choices}
