"""One measured run (a target, a scenario, a concurrency) and its percentiles."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Run:
    """What a load driver saw. Latencies in milliseconds; None where not measured."""

    tool: str
    concurrency: int
    requests: int
    errors: int
    duration_s: float
    rps: float
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None
    mean_ms: float | None
    ttfb_p50_ms: float | None = None
    ttfb_p99_ms: float | None = None
    cpu_ms_per_request: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def with_cpu(self, cpu_s: float | None) -> Run:
        if cpu_s is None or self.requests == 0:
            return self
        values = self.as_dict()
        values["cpu_ms_per_request"] = round(cpu_s * 1000 / self.requests, 3)
        return Run(**values)


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (q in 0..100)."""
    if not sorted_values:
        raise ValueError("no values")
    rank = max(0, min(len(sorted_values) - 1, round(q / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[rank]


def summarise(
    latencies_us: list[float],
    *,
    errors: int,
    elapsed_s: float,
    concurrency: int,
    ttfb_us: list[float] | None = None,
    tool: str,
) -> Run:
    values = sorted(latencies_us)
    ttfb = sorted(ttfb_us or [])

    def ms(sorted_us: list[float], q: float) -> float | None:
        return round(percentile(sorted_us, q) / 1000, 3) if sorted_us else None

    return Run(
        tool=tool,
        concurrency=concurrency,
        requests=len(values),
        errors=errors,
        duration_s=round(elapsed_s, 3),
        rps=round(len(values) / elapsed_s, 1) if elapsed_s > 0 else 0.0,
        p50_ms=ms(values, 50),
        p90_ms=ms(values, 90),
        p99_ms=ms(values, 99),
        mean_ms=round(sum(values) / len(values) / 1000, 3) if values else None,
        ttfb_p50_ms=ms(ttfb, 50),
        ttfb_p99_ms=ms(ttfb, 99),
    )
