"""Server-sent events from an OpenAI-compatible upstream, decoded as they arrive.

A small incremental decoder instead of a general SSE library: the upstream's
bytes come in network-sized pieces, an event may span pieces, and a piece
usually holds several events. Only ``data`` fields matter for chat chunks
(``event``, ``id``, ``retry`` and ``:`` comments are skipped, as the OpenAI SDK
does for chat streams); ``data: [DONE]`` ends the stream.
"""

from __future__ import annotations

from typing import Any

import orjson

DONE = b"[DONE]"


class SSEDecoder:
    """Feed bytes, get the JSON payloads of the events they complete."""

    __slots__ = ("_data", "_pending", "done")

    def __init__(self) -> None:
        self._pending = b""
        self._data: list[bytes] = []
        self.done = False

    def feed(self, piece: bytes) -> list[dict[str, Any]]:
        """Payloads completed by ``piece``; raises ``orjson.JSONDecodeError`` on a bad one."""
        if self.done:
            return []
        lines = (self._pending + piece).split(b"\n")
        self._pending = lines.pop()
        events: list[dict[str, Any]] = []
        for line in lines:
            if line.endswith(b"\r"):
                line = line[:-1]
            if not line:
                if self._data and self._dispatch(events):
                    break
                continue
            if line.startswith(b"data:"):
                value = line[5:]
                self._data.append(value[1:] if value.startswith(b" ") else value)
        return events

    def close(self) -> list[dict[str, Any]]:
        """Payloads of an event the upstream left unterminated when it closed the stream."""
        return [] if self.done else self.feed(b"\n\n")

    def _dispatch(self, events: list[dict[str, Any]]) -> bool:
        """Close the current event; True when it was ``[DONE]``."""
        data = self._data[0] if len(self._data) == 1 else b"\n".join(self._data)
        self._data = []
        if data == DONE:
            self.done = True
            return True
        payload = orjson.loads(data)
        if isinstance(payload, dict):
            events.append(payload)
        return False
