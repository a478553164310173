"""OpenAI chat-completion chunks -> Anthropic Messages streaming events.

Anthropic streams a ``message_start``, then content blocks one after another
(``content_block_start``, deltas, ``content_block_stop``), then a
``message_delta`` with the stop reason and usage and a ``message_stop``. OpenAI
interleaves text and tool-call pieces in one delta stream; ``StreamTranslator``
opens and closes blocks as the kind of piece changes. Only the first choice is
translated (the Messages API has no ``n``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from app.gateway.anthropic_wire import stop_reason, usage


def sse(event: dict[str, Any]) -> bytes:
    """One event in Anthropic's framing: a named SSE event carrying its JSON."""
    return b"event: " + event["type"].encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"


@dataclass(slots=True)
class _Block:
    index: int
    kind: str  # "text" or "tool_use"
    tool_index: int | None = None


@dataclass(slots=True)
class StreamTranslator:
    message_id: str
    stops: list[str]
    _block: _Block | None = None
    _next_index: int = 0
    _finish: dict[str, Any] = field(default_factory=dict)
    _usage: dict[str, Any] | None = None

    def start(self, model: str) -> list[dict[str, Any]]:
        message: dict[str, Any] = {
            "id": self.message_id,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }
        return [{"type": "message_start", "message": message}]

    def feed(self, chunk: dict[str, Any]) -> list[dict[str, Any]]:
        """The events one OpenAI chunk stands for (often none)."""
        if chunk.get("usage"):
            self._usage = chunk["usage"]
        events: list[dict[str, Any]] = []
        for choice in chunk.get("choices") or []:
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            if delta.get("content"):
                events += self._text(delta["content"])
            for call in delta.get("tool_calls") or []:
                events += self._tool_piece(call)
            if choice.get("finish_reason"):
                self._finish = choice
        return events

    def finish(self) -> list[dict[str, Any]]:
        """Close the open block and end the message with its stop reason and usage."""
        events = self._close()
        reason, sequence = stop_reason(self._finish or {"finish_reason": "stop"}, self.stops)
        counts = usage(self._usage)
        events.append(
            {
                "type": "message_delta",
                "delta": {"stop_reason": reason, "stop_sequence": sequence},
                "usage": {
                    "output_tokens": counts["output_tokens"],
                    "input_tokens": counts["input_tokens"],
                },
            }
        )
        events.append({"type": "message_stop"})
        return events

    def _text(self, text: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        if self._block is None or self._block.kind != "text":
            events += self._close()
            events += self._open("text", {"type": "text", "text": ""})
        assert self._block is not None
        delta = {"type": "text_delta", "text": text}
        events.append({"type": "content_block_delta", "index": self._block.index, "delta": delta})
        return events

    def _tool_piece(self, call: dict[str, Any]) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        tool_index = call.get("index", 0)
        function = call.get("function") or {}
        block = self._block
        if block is None or block.kind != "tool_use" or block.tool_index != tool_index:
            events += self._close()
            start = {"type": "tool_use", "id": call.get("id"), "name": function.get("name")}
            events += self._open("tool_use", {**start, "input": {}}, tool_index)
        assert self._block is not None
        if function.get("arguments"):
            delta = {"type": "input_json_delta", "partial_json": function["arguments"]}
            events.append(
                {"type": "content_block_delta", "index": self._block.index, "delta": delta}
            )
        return events

    def _open(
        self, kind: str, content_block: dict[str, Any], tool_index: int | None = None
    ) -> list[dict[str, Any]]:
        self._block = _Block(self._next_index, kind, tool_index)
        self._next_index += 1
        return [
            {
                "type": "content_block_start",
                "index": self._block.index,
                "content_block": content_block,
            }
        ]

    def _close(self) -> list[dict[str, Any]]:
        if self._block is None:
            return []
        index, self._block = self._block.index, None
        return [{"type": "content_block_stop", "index": index}]
