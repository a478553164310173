"""The systems an eval runs against: a bundle in-process, or a gateway over HTTP.

``LocalTarget`` runs the gateway's own pipeline code (``prepare_chat``, the
``ProviderClient`` retries and the bundle's fallbacks) without a server: the
CLI's ``--bundle`` runs and the gateway's run-on-promotion use it. The
gateway's ``prepare_chat`` is handed in (``PrepareChat``): evals sit below the
gateway and never import it.
``HttpTarget`` posts to a gateway's ``/v1/chat/completions`` with a pinned
``name@sha256:...`` model, so the digest under test cannot change mid-run.

Either raises ``CallFailed``; ``infrastructure`` says whether the failure
counts against the error budget (provider trouble: 429, 5xx, timeouts,
unreachable) or is the system's own answer to the case (any other 4xx). A
``Reply`` says which bundle of the chain answered (``fallback_index``; over
HTTP from the gateway's ``x-pinyard-fallback-index`` header), so a case the
bundle under test did not answer itself is never mistaken for its answer.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import httpx

from app.bundles.spec import REF_PATTERN
from app.errors import PinyardError
from app.guardrails.apply import check_completion
from app.guardrails.check import Outcome
from app.providers.client import ProviderClient
from app.providers.fallback import FALLBACK_ON, Candidate, complete_with_fallbacks
from app.registry.compiled import CompiledBundle, PrepareChat

_INFRA_STATUSES = frozenset({408, 429})


class CallFailed(Exception):
    def __init__(self, message: str, *, infrastructure: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.infrastructure = infrastructure
        self.status = status


@dataclass(frozen=True, slots=True)
class Reply:
    response: dict[str, Any]
    latency_ms: float
    model: str  # the provider model that answered (a fallback's, if one did)
    cost_usd: float | None
    fallback_index: int = 0  # 0: the bundle itself answered; k: its k-th fallback

    def as_dict(self) -> dict[str, Any]:
        return {
            "response": self.response,
            "latency_ms": self.latency_ms,
            "model": self.model,
            "cost_usd": self.cost_usd,
            "fallback_index": self.fallback_index,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Reply:
        return cls(
            data["response"],
            float(data["latency_ms"]),
            data["model"],
            data["cost_usd"],
            int(data.get("fallback_index") or 0),
        )


@dataclass(frozen=True, slots=True)
class TargetInfo:
    """Which system version is under test, as reports and recorded runs name it."""

    name: str
    digest: str
    version: int | None = None  # None: a local bundle file not (yet) known to be registered
    model: str = ""
    source: str = "bundle"  # bundle (a local file) | ref (name@N) | alias (alias@env)
    reference: str = ""  # what the user wrote: a path, a ref or alias@env
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.name}@{self.version}" if self.version is not None else self.reference

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "digest": self.digest,
            "model": self.model,
            "source": self.source,
            "reference": self.reference,
            **self.extra,
        }


class Target(Protocol):
    info: TargetInfo
    compiled: CompiledBundle

    async def complete(self, body: dict[str, Any]) -> Reply:
        """Answer one chat body (messages + variables) or raise ``CallFailed``."""
        ...


def output_text(response: dict[str, Any]) -> str:
    """The first choice's text; a tool call is given as JSON so scorers can still see it."""
    choices = response.get("choices") or []
    if not choices:
        return ""
    message = choices[0].get("message") or {}
    content = message.get("content")
    if isinstance(content, str):
        return content
    calls = message.get("tool_calls") or []
    if calls:
        return json.dumps([c.get("function") for c in calls], ensure_ascii=False)
    return ""


class LocalTarget:
    """A bundle run in this process through the gateway's planning and provider code."""

    def __init__(
        self,
        compiled: CompiledBundle,
        providers: ProviderClient,
        info: TargetInfo,
        fallbacks: Sequence[CompiledBundle] = (),
        http: httpx.AsyncClient | None = None,
        *,
        prepare: PrepareChat,
    ) -> None:
        self.compiled = compiled
        self.prepare = prepare
        self.info = info
        self.providers = providers
        self.chain = [compiled, *(f for f in fallbacks if f.spec.kind == "chat")]
        # For retrievers of kind http; in the gateway, its shared client.
        self.http = http or httpx.AsyncClient(timeout=30)

    async def complete(self, body: dict[str, Any]) -> Reply:
        outcomes: list[Outcome] = []
        candidates = [
            Candidate(
                bundle,
                partial(
                    self.prepare, bundle, body, stream=False, http=self.http, outcomes=outcomes
                ),
            )
            for bundle in self.chain
        ]
        started = time.perf_counter()
        try:
            served, response = await complete_with_fallbacks(self.providers, candidates, [])
            response = check_completion(served.key.guardrails, response, outcomes)
        except FALLBACK_ON as exc:
            raise CallFailed(_describe(exc), infrastructure=True, status=exc.status_code) from exc
        except PinyardError as exc:
            raise CallFailed(_describe(exc), infrastructure=False, status=exc.status_code) from exc
        latency = (time.perf_counter() - started) * 1000
        model = served.key.spec.model
        usage = response.get("usage")
        return Reply(
            response, latency, model, self.providers.prices.cost(model, usage), served.index
        )


class HttpTarget:
    """A registered bundle reached through a gateway's data plane, pinned by digest."""

    def __init__(
        self,
        http: httpx.Client,
        compiled: CompiledBundle,
        info: TargetInfo,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.http = http
        self.compiled = compiled
        self.info = info
        self.model = f"{info.name}@{info.digest}"
        self.headers = {"content-type": "application/json", **(headers or {})}

    async def complete(self, body: dict[str, Any]) -> Reply:
        started = time.perf_counter()
        try:
            # httpx.Client is thread-safe; a thread per call keeps the event loop free.
            response = await asyncio.to_thread(
                self.http.post,
                "/v1/chat/completions",
                json={**body, "model": self.model},
                headers=self.headers,
            )
        except httpx.HTTPError as exc:
            raise CallFailed(
                f"cannot reach the gateway: {type(exc).__name__}: {exc}", infrastructure=True
            ) from exc
        latency = (time.perf_counter() - started) * 1000
        try:
            data: Any = response.json()
        except ValueError:
            data = None
        if not response.is_success or not isinstance(data, dict):
            status = response.status_code
            error = data.get("error") if isinstance(data, dict) else None
            message = error.get("message") if isinstance(error, dict) else response.text[:200]
            code = error.get("code") if isinstance(error, dict) else None
            raise CallFailed(
                f"HTTP {status} {code or ''}: {message}".replace("  ", " "),
                infrastructure=status >= 500 or status in _INFRA_STATUSES,
                status=status,
            )
        model = response.headers.get("x-pinyard-provider-model") or str(data.get("model", ""))
        fallback = _fallback_index(response.headers)
        # The gateway priced the answer (with its own prices file): its header says what.
        cost = response.headers.get("x-pinyard-cost-usd")
        return Reply(data, latency, model, None if cost is None else float(cost), fallback)


def _fallback_index(headers: httpx.Headers) -> int:
    """Which bundle of the chain answered, as the gateway's lineage headers say."""
    index = headers.get("x-pinyard-fallback-index", "")
    if index.isdigit():
        return int(index)
    return 1 if headers.get("x-pinyard-route") == "fallback" else 0


def _describe(exc: PinyardError) -> str:
    return f"{exc.status_code} {exc.code}: {exc.message}"


_ALIAS_AT_ENV = re.compile(
    r"^(?P<alias>[a-z0-9][a-z0-9._-]{0,62})@(?P<env>[A-Za-z0-9][\w-]{0,62})$"
)


def reference_kind(reference: str) -> tuple[str, str, str]:
    """How a target or judge is named: ("ref", ref, ""), ("alias", alias, env), ("path", p, "").

    ``name@3`` and ``name@sha256:...`` are registry refs; ``alias@env`` names
    an alias of an environment; anything else is a bundle file or folder.
    """
    if REF_PATTERN.match(reference):
        return "ref", reference, ""
    match = _ALIAS_AT_ENV.match(reference)
    if match and not Path(reference).exists():
        return "alias", match["alias"], match["env"]
    return "path", reference, ""
