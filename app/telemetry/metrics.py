"""Prometheus metrics, on a registry owned by one app instance (no module globals)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "pinyard_requests_total",
            "Data-plane requests by environment, alias, route and HTTP status.",
            ["environment", "alias", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "pinyard_request_duration_seconds",
            "Time from request to the last byte of the answer.",
            ["environment", "alias"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.attempts = Counter(
            "pinyard_provider_attempts_total",
            "Upstream attempts by provider model and outcome.",
            ["provider_model", "outcome"],
            registry=self.registry,
        )
        self.records_written = Counter(
            "pinyard_request_records_written_total",
            "Request records written to the database.",
            registry=self.registry,
        )
        self.records_dropped = Counter(
            "pinyard_request_records_dropped_total",
            "Request records dropped, by reason (queue_full, write_failed).",
            ["reason"],
            registry=self.registry,
        )
        self.snapshot_revision = Gauge(
            "pinyard_snapshot_revision",
            "Registry revision this replica is serving.",
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
