"""Lineage: the headers that say which system version answered, and the request record."""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from app.bundles.spec import canonical_json
from app.context import AppContext
from app.errors import GuardrailBlocked, PinyardError, RetrievalFailed
from app.guardrails.check import Outcome
from app.providers.interface import Attempt
from app.providers.pricing import cost_header
from app.registry.record_repo import RequestRecord
from app.registry.snapshot import ActiveRollout, ServedBundle
from app.registry.tables import utcnow
from app.retrieval.passages import RetrievalResult
from app.telemetry.logging import current_request_id


class _RequestIds:
    """``req_`` + 32 hex digits: 48 bits of Unix milliseconds, then 80 random bits.

    Ordered by time, so the records' primary-key index grows at its end rather
    than everywhere; and the randomness comes from ``os.urandom`` 8 KiB at a
    time (one system call per ~800 ids, not one each; refilled in a forked child).
    """

    _POOL = 8190  # bytes: 819 ids of 10 random bytes

    def __init__(self) -> None:
        self._random = b""
        self._at = 0
        os.register_at_fork(after_in_child=self._forget)

    def __call__(self) -> str:
        at = self._at
        if at + 10 > len(self._random):
            self._random, at = os.urandom(self._POOL), 0
        self._at = at + 10
        return f"req_{time.time_ns() // 1_000_000:012x}{self._random[at : at + 10].hex()}"

    def _forget(self) -> None:
        self._random, self._at = b"", 0


new_request_id = _RequestIds()


def input_digest(body: dict[str, Any]) -> str:
    return "sha256:" + hashlib.sha256(canonical_json(body)).hexdigest()


@dataclass(slots=True)
class Lineage:
    """Everything known about one request, filled in as it runs."""

    request_id: str
    environment: str
    endpoint: str
    started: float = field(default_factory=time.perf_counter)
    alias: str | None = None
    bundle: ServedBundle | None = None
    route: str | None = None
    stream: bool = False
    ignored: tuple[str, ...] = ()
    attempts: list[Attempt] = field(default_factory=list)
    input_digest: str | None = None
    ttft_ms: float | None = None
    usage: dict[str, Any] | None = None
    status: int = 200
    error: str | None = None
    request_body: dict[str, Any] | None = None
    response_body: Any = None
    guardrails: list[Outcome] = field(default_factory=list)  # every check that ran, in order
    guardrail_blocked: bool = False  # the answer was a guardrail block
    retrieval: RetrievalResult | None = None
    retrieval_error: str | None = None
    # request_body is the client's body as the input guardrails left it.
    payload_guarded: bool = False
    # During a rollout: which one and which arm served.
    rollout: ActiveRollout | None = None
    arm: str | None = None
    # Which bundle of the chain answered: 0 the resolved one, k its k-th fallback.
    fallback_index: int | None = None
    # The bundle the request was routed to (``bundle`` becomes a fallback that answers).
    routed_digest: str | None = None
    # USD: the usage times the answering model's price, once both are known.
    cost_usd: float | None = None

    def __post_init__(self) -> None:
        # Every endpoint's log lines about this request carry its id.
        current_request_id.set(self.request_id)

    def headers(self) -> dict[str, str]:
        headers = {
            "x-pinyard-request-id": self.request_id,
            "x-request-id": self.request_id,
            "x-pinyard-environment": self.environment,
        }
        if self.alias is not None:
            headers["x-pinyard-alias"] = self.alias
        if self.bundle is not None:
            headers["x-pinyard-bundle"] = self.bundle.label
            headers["x-pinyard-bundle-digest"] = self.bundle.digest
            headers["x-pinyard-provider-model"] = self.bundle.compiled.spec.model
            # Deprecation, Sunset, Link (RFC 9745, 8594) when the model retires.
            headers.update(self.bundle.deprecation_headers)
        if self.route is not None:
            headers["x-pinyard-route"] = self.route
        if self.cost_usd is not None:
            headers["x-pinyard-cost-usd"] = cost_header(self.cost_usd)
        if self.fallback_index:
            headers["x-pinyard-fallback-index"] = str(self.fallback_index)
        if self.ignored:
            headers["x-pinyard-ignored-params"] = ",".join(self.ignored)
        acted = [o.header for o in self.guardrails if o.result != "passed"]
        if acted:
            headers["x-pinyard-guardrails"] = ",".join(acted)
        return headers

    def fail(self, exc: PinyardError) -> None:
        self.status = exc.status_code
        self.error = f"{exc.code}: {exc.message}"
        self.guardrail_blocked = isinstance(exc, GuardrailBlocked)
        if isinstance(exc, RetrievalFailed):
            self.retrieval_error = exc.message

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000

    def mark_first_token(self) -> None:
        if self.ttft_ms is None:
            self.ttft_ms = self.elapsed_ms()

    def record(self, *, log_payloads: bool) -> RequestRecord:
        usage = self.usage or {}
        spec = self.bundle.compiled.spec if self.bundle else None
        return RequestRecord(
            id=self.request_id,
            created_at=utcnow(),
            environment=self.environment,
            alias=self.alias,
            bundle_name=self.bundle.name if self.bundle else None,
            bundle_version=self.bundle.version if self.bundle else None,
            bundle_digest=self.bundle.digest if self.bundle else None,
            route=self.route,
            provider_model=spec.model if spec else None,
            endpoint=self.endpoint,
            stream=self.stream,
            attempts=orjson.dumps([a.as_dict() for a in self.attempts]).decode(),
            input_digest=self.input_digest,
            latency_ms=round(self.elapsed_ms(), 3),
            ttft_ms=None if self.ttft_ms is None else round(self.ttft_ms, 3),
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=usage.get("completion_tokens"),
            total_tokens=usage.get("total_tokens"),
            status=self.status,
            error=self.error,
            ignored_params=",".join(self.ignored) or None,
            request_body=_dump(self._stored_request()) if log_payloads else None,
            response_body=_dump(self.response_body) if log_payloads else None,
            guardrail_blocked=self.guardrail_blocked,
            guardrails=_dump([o.as_dict() for o in self.guardrails] or None),
            retrieved_sources=_dump(self.retrieval.sources() if self.retrieval else None),
            retrieval_error=self.retrieval_error,
            rollout_id=self.rollout.id if self.rollout else None,
            arm=self.arm,
            rollout_step=self.rollout.step if self.rollout else None,
            fallback_index=self.fallback_index,
            routed_digest=self._routed_elsewhere(),
            cost_usd=self.cost_usd,
        )

    def _routed_elsewhere(self) -> str | None:
        """The routed bundle's digest when another one (a fallback) answered, else None."""
        routed = self.routed_digest
        return routed if self.bundle is not None and routed != self.bundle.digest else None

    def _stored_request(self) -> dict[str, Any] | None:
        """Never the raw body when an input guardrail blocked or redacted it."""
        acted = any(
            o.stage == "input" and o.result in ("blocked", "redacted") for o in self.guardrails
        )
        return None if acted and not self.payload_guarded else self.request_body


def _dump(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def finish(ctx: AppContext, lineage: Lineage) -> None:
    """Price and count the request and hand its record to the writer (never blocks)."""
    if lineage.bundle is not None and lineage.usage:
        lineage.cost_usd = ctx.providers.prices.cost(
            lineage.bundle.compiled.spec.model, lineage.usage
        )
        if lineage.cost_usd:
            ctx.metrics.cost.labels(
                lineage.environment, lineage.alias or "", lineage.bundle.digest
            ).inc(lineage.cost_usd)
    labels = (lineage.environment, lineage.alias or "", lineage.route or "", str(lineage.status))
    ctx.metrics.requests.labels(*labels).inc()
    ctx.metrics.latency.labels(lineage.environment, lineage.alias or "").observe(
        lineage.elapsed_ms() / 1000
    )
    for attempt in lineage.attempts:
        ctx.metrics.attempts.labels(attempt.model, "ok" if attempt.ok else "error").inc()
    where = (lineage.environment, lineage.alias or "")
    for outcome in lineage.guardrails:
        ctx.metrics.guardrails.labels(
            *where, outcome.stage, outcome.guardrail, outcome.result
        ).inc()
    if lineage.retrieval_error is not None:
        retrieval = lineage.bundle.compiled.spec.retrieval if lineage.bundle else None
        kind, on_error = (retrieval.kind, retrieval.on_error) if retrieval else ("", "")
        ctx.metrics.retrieval_errors.labels(*where, kind, on_error).inc()
    ctx.records.submit(lineage.record(log_payloads=ctx.settings.log_payloads))
    ctx.rollouts.count(lineage)  # per-arm metrics of a rollout
