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

from app.errors import BadRequestError

# Parameters that steer a provider client itself (credentials, endpoints,
# retries, headers, mocks) rather than the model; never accepted in a call's
# params, whichever transport serves it.
CONTROL_PARAMS = frozenset(
    {
        "model",
        "messages",
        "input",
        "timeout",
        "num_retries",
        "max_retries",
        "base_url",
        "custom_llm_provider",
        "headers",
        "extra_headers",
        "client",
        "fallbacks",
        "context_window_fallback_dict",
        "mock_response",
        "mock_tool_calls",
        "mock_timeout",
        "callbacks",
        "logger_fn",
        "cache",
        "organization",
    }
)
CONTROL_PREFIXES = ("api_", "litellm_", "aws_", "vertex_", "azure_", "mock_")


def refuse_control_params(params: dict[str, Any]) -> None:
    """Raise ``BadRequestError`` naming the first parameter that is not the model's to take."""
    for name in params:
        if name in CONTROL_PARAMS or name.startswith(CONTROL_PREFIXES):
            raise BadRequestError(f"parameter {name!r} is not allowed", param=name)


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
