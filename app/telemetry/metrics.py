"""Prometheus metrics, on a registry owned by one app instance (no module globals)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
# (environment, alias, provider model, days until shutdown) of every live alias.
ShutdownRows = Callable[[], Iterable[tuple[str, str, str, float]]]


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
            "Request records dropped, by reason (queue_full, buffer_full, write_failed, shutdown).",
            ["reason"],
            registry=self.registry,
        )
        self.records_buffered = Gauge(
            "pinyard_request_records_buffered",
            "Request records accepted and not yet written (grows while the database is away).",
            registry=self.registry,
        )
        self.snapshot_revision = Gauge(
            "pinyard_snapshot_revision",
            "Registry revision this replica is serving.",
            registry=self.registry,
        )
        self.cost = Counter(
            "pinyard_cost_usd_total",
            "What answers cost in US dollars (usage x price), by alias and the bundle digest "
            "that answered; unpriced answers add nothing.",
            ["environment", "alias", "digest"],
            registry=self.registry,
        )
        self.guardrails = Counter(
            "pinyard_guardrail_outcomes_total",
            "Guardrail checks by stage, guardrail label and outcome (passed, blocked, "
            "redacted, flagged).",
            ["environment", "alias", "stage", "guardrail", "outcome"],
            registry=self.registry,
        )
        self.retrieval_errors = Counter(
            "pinyard_retrieval_errors_total",
            "Retrievals that failed, by retriever kind and whether the request went on (open).",
            ["environment", "alias", "kind", "on_error"],
            registry=self.registry,
        )
        # Rollouts: each arm of a running rollout, and its shadow traffic.
        self.rollout_requests = Counter(
            "pinyard_rollout_requests_total",
            "Requests of a running rollout by arm (stable, canary) and outcome "
            "(ok, error, blocked, fallback: answered by a fallback, a failure of the arm's "
            "own bundle).",
            ["environment", "alias", "arm", "outcome"],
            registry=self.registry,
        )
        self.rollout_latency = Histogram(
            "pinyard_rollout_request_duration_seconds",
            "Request latency of a running rollout, by arm.",
            ["environment", "alias", "arm"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.rollout_tokens = Counter(
            "pinyard_rollout_tokens_total",
            "Tokens of a running rollout by arm and kind (prompt, completion).",
            ["environment", "alias", "arm", "kind"],
            registry=self.registry,
        )
        self.rollout_weight = Gauge(
            "pinyard_rollout_canary_weight_percent",
            "Share of subjects this replica routes to the candidate (0 while shadowing).",
            ["environment", "alias"],
            registry=self.registry,
        )
        self.rollout_decisions = Counter(
            "pinyard_rollout_decisions_total",
            "Rollout transitions made by the analysis loop or an operator, by action.",
            ["action"],
            registry=self.registry,
        )
        self.shadow_pairs = Counter(
            "pinyard_shadow_pairs_total",
            "Shadow pairs by outcome (compared: both answered; error: either side failed; "
            "fallback: a fallback answered the client instead of the baseline).",
            ["environment", "alias", "outcome"],
            registry=self.registry,
        )
        self.shadow_dropped = Counter(
            "pinyard_shadow_dropped_total",
            "Sampled shadow calls not made or not stored, by reason (queue_full, concurrency, "
            "budget, write_queue_full, write_failed).",
            ["reason"],
            registry=self.registry,
        )

    def track_model_shutdowns(self, rows: ShutdownRows) -> None:
        """Publish days until shutdown per (environment, alias, model), read at scrape time."""
        self.registry.register(_ModelShutdownCollector(rows))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _ModelShutdownCollector(Collector):
    """A gauge computed when scraped, so alias flips show up at once (not per request)."""

    def __init__(self, rows: ShutdownRows) -> None:
        self.rows = rows

    @staticmethod
    def _family() -> GaugeMetricFamily:
        return GaugeMetricFamily(
            "pinyard_model_days_until_shutdown",
            "Days until the provider shuts down the model a live alias pins (<= 0: shut down).",
            labels=["environment", "alias", "model"],
        )

    def describe(self) -> Iterator[Metric]:
        yield self._family()

    def collect(self) -> Iterator[Metric]:
        family = self._family()
        for environment, alias, model, days in self.rows():
            family.add_metric([environment, alias, model], days)
        yield family
