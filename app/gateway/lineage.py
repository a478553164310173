"""Lineage: the headers that say which system version answered, and the request record."""

from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson

from app.bundles.spec import canonical_json
from app.context import AppContext
from app.errors import PinyardError
from app.providers.base import Attempt
from app.registry.snapshot import ServedBundle
from app.registry.tables import RequestRecordRow, utcnow


def new_request_id() -> str:
    return "req_" + uuid.uuid4().hex


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
        if self.route is not None:
            headers["x-pinyard-route"] = self.route
        if self.ignored:
            headers["x-pinyard-ignored-params"] = ",".join(self.ignored)
        return headers

    def fail(self, exc: PinyardError) -> None:
        self.status = exc.status_code
        self.error = f"{exc.code}: {exc.message}"

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000

    def mark_first_token(self) -> None:
        if self.ttft_ms is None:
            self.ttft_ms = self.elapsed_ms()

    def record(self, *, log_payloads: bool) -> RequestRecordRow:
        usage = self.usage or {}
        spec = self.bundle.compiled.spec if self.bundle else None
        return RequestRecordRow(
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
            request_body=_dump(self.request_body) if log_payloads else None,
            response_body=_dump(self.response_body) if log_payloads else None,
        )


def _dump(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def finish(ctx: AppContext, lineage: Lineage) -> None:
    """Count the request and hand its record to the writer (never blocks)."""
    labels = (lineage.environment, lineage.alias or "", lineage.route or "", str(lineage.status))
    ctx.metrics.requests.labels(*labels).inc()
    ctx.metrics.latency.labels(lineage.environment, lineage.alias or "").observe(
        lineage.elapsed_ms() / 1000
    )
    for attempt in lineage.attempts:
        ctx.metrics.attempts.labels(attempt.model, "ok" if attempt.ok else "error").inc()
    ctx.records.submit(lineage.record(log_payloads=ctx.settings.log_payloads))
