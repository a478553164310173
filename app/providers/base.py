"""The narrow interface between the request pipeline and model providers.

The pipeline speaks OpenAI's wire format as plain dicts: a ``ProviderCall`` in,
a chat-completion dict (or chunk dicts when streaming) out. Keeping the
interface this small lets an OpenAI-compatible upstream be served by a direct
pooled HTTP client later without touching the pipeline.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class ProviderCall:
    """One call to one pinned model.

    ``params`` are the merged upstream parameters (temperature, tools,
    response_format, n, seed, stop, ...), never credentials: those come from
    the gateway's environment.
    """

    model: str
    messages: list[dict[str, Any]]
    params: dict[str, Any] = field(default_factory=dict)
    timeout_s: float = 30.0


@dataclass(frozen=True, slots=True)
class EmbeddingCall:
    model: str
    input: str | list[str] | list[int] | list[list[int]]
    params: dict[str, Any] = field(default_factory=dict)
    timeout_s: float = 30.0


@dataclass(slots=True)
class Attempt:
    """One try at the upstream, kept for the request record."""

    model: str
    started_at: float
    latency_ms: float = 0.0
    ok: bool = False
    error: str | None = None
    status: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "started_at": self.started_at,
            "latency_ms": round(self.latency_ms, 3),
            "ok": self.ok,
            "error": self.error,
            "status": self.status,
        }


def start_attempt(model: str) -> Attempt:
    return Attempt(model=model, started_at=time.time())


class Provider(Protocol):
    """What every provider implements. Errors raised are ``app.errors.PinyardError``."""

    async def complete(self, call: ProviderCall) -> dict[str, Any]:
        """Return an OpenAI ``chat.completion`` object as a dict."""
        ...

    def stream(self, call: ProviderCall) -> AsyncIterator[dict[str, Any]]:
        """Yield OpenAI ``chat.completion.chunk`` objects as dicts."""
        ...

    async def embed(self, call: EmbeddingCall) -> dict[str, Any]:
        """Return an OpenAI embeddings ``list`` object as a dict."""
        ...
