"""Results of a suite run: per repeat, per case, and the suite's verdict.

Verdicts, in order: ``error`` when provider errors exceed the suite's error
budget (infrastructure, exit 3), ``fail`` when a threshold is unmet or a metric
regressed against the baseline (exit 1), else ``pass``. Errored repeats are
neither passes nor failures: a case needs ``min(k, completed repeats)`` passes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from app.evals.scorers.scorer import Score
from app.evals.suite import Case, Suite
from app.evals.targets import TargetInfo

Status = Literal["pass", "fail", "error"]
OUTPUT_LIMIT = 4000
_EPSILON = 1e-9


@dataclass(slots=True)
class RepeatResult:
    repeat: int
    status: Status
    output: str = ""
    latency_ms: float | None = None
    cost_usd: float | None = None
    model: str | None = None
    cached: bool = False
    error: str | None = None
    scores: list[Score] = field(default_factory=list)
    fallback_index: int = 0  # 0: the bundle under test answered; k: its k-th fallback

    def as_dict(self) -> dict[str, Any]:
        return {
            "repeat": self.repeat,
            "status": self.status,
            "output": self.output[:OUTPUT_LIMIT],
            "latency_ms": None if self.latency_ms is None else round(self.latency_ms, 3),
            "cost_usd": self.cost_usd,
            "model": self.model,
            "cached": self.cached,
            "fallback_index": self.fallback_index,
            "error": self.error,
            "scores": [s.as_dict() for s in self.scores],
        }


@dataclass(slots=True)
class CaseResult:
    case: Case
    repeats: list[RepeatResult]
    required: int  # k of the k-of-n rule

    @property
    def completed(self) -> list[RepeatResult]:
        return [r for r in self.repeats if r.status != "error"]

    @property
    def passes(self) -> int:
        return sum(1 for r in self.repeats if r.status == "pass")

    @property
    def status(self) -> Status:
        completed = self.completed
        if not completed:
            return "error"
        return "pass" if self.passes >= min(self.required, len(completed)) else "fail"

    def reasons(self) -> list[str]:
        """Why it failed (or errored): failing scorers and call failures, each once."""
        found: list[str] = []
        for repeat in self.repeats:
            if repeat.status == "pass":
                continue
            items = [repeat.error] if repeat.error else []
            items += [f"{s.name}: {s.reason}" for s in repeat.scores if not s.passed]
            found += [item for item in items if item and item not in found]
        return found

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.case.id,
            "tags": list(self.case.tags),
            "status": self.status,
            "passes": self.passes,
            "completed": len(self.completed),
            "repeats": len(self.repeats),
            "required": self.required,
            "reasons": self.reasons() if self.status != "pass" else [],
            "results": [r.as_dict() for r in self.repeats],
        }


@dataclass(slots=True)
class Comparison:
    """The candidate against a baseline run of the same suite."""

    baseline: SuiteResult
    max_regression: float
    regressions: list[str]
    flipped: list[str]  # cases that passed on the baseline and fail now
    fixed: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {
            "bundle": self.baseline.target.as_dict(),
            "verdict": self.baseline.verdict,
            "totals": self.baseline.totals(),
            "scorers": self.baseline.scorer_means(),
            "max_regression": self.max_regression,
            "regressions": self.regressions,
            "flipped": self.flipped,
            "fixed": self.fixed,
        }


@dataclass(slots=True)
class SuiteResult:
    suite: Suite
    target: TargetInfo
    cases: list[CaseResult]
    duration_s: float = 0.0
    comparison: Comparison | None = None

    def calls(self) -> list[RepeatResult]:
        return [r for case in self.cases for r in case.repeats]

    def errors(self) -> int:
        return sum(1 for r in self.calls() if r.status == "error")

    def pass_rate(self) -> float | None:
        scored = [c for c in self.cases if c.status != "error"]
        if not scored:
            return None
        return sum(1 for c in scored if c.status == "pass") / len(scored)

    def scorer_means(self) -> dict[str, dict[str, Any]]:
        by_name: dict[str, list[Score]] = {}
        for repeat in self.calls():
            if repeat.status != "error":
                for score in repeat.scores:
                    by_name.setdefault(score.name, []).append(score)
        thresholds = self.suite.spec.thresholds.scorers
        return {
            name: {
                "type": scores[0].type,
                "mean": round(sum(s.score for s in scores) / len(scores), 6),
                "passed": sum(1 for s in scores if s.passed),
                "count": len(scores),
                "minimum": thresholds.get(name),
            }
            for name, scores in sorted(by_name.items())
        }

    def totals(self) -> dict[str, Any]:
        statuses = [c.status for c in self.cases]
        calls = self.calls()
        costs = [r.cost_usd for r in calls if r.cost_usd is not None]
        latencies = [r.latency_ms for r in calls if r.latency_ms is not None]
        rate = self.pass_rate()
        return {
            "cases": len(self.cases),
            "passed": statuses.count("pass"),
            "failed": statuses.count("fail"),
            "errored": statuses.count("error"),
            "pass_rate": None if rate is None else round(rate, 6),
            "calls": len(calls),
            "errors": self.errors(),
            "error_budget": self.suite.spec.error_budget,
            "cached": sum(1 for r in calls if r.cached),
            "fallbacks": sum(1 for r in calls if r.fallback_index),
            "cost_usd": round(sum(costs), 8) if costs else None,
            "mean_latency_ms": round(sum(latencies) / len(latencies), 3) if latencies else None,
            "duration_s": round(self.duration_s, 3),
        }

    def failures(self) -> list[str]:
        """Every unmet threshold, in words that name it; empty when the run passes."""
        spec = self.suite.spec
        errors, budget = self.errors(), spec.error_budget
        if errors > budget:
            return [f"error budget exceeded: {errors} provider errors > error_budget {budget}"]
        rate = self.pass_rate()
        if rate is None:
            return ["every case errored: nothing was scored"]
        found: list[str] = []
        totals = self.totals()
        if rate + _EPSILON < spec.thresholds.pass_rate:
            found.append(
                f"pass_rate {rate:.2f} < {spec.thresholds.pass_rate:.2f} "
                f"({totals['failed']} of {totals['passed'] + totals['failed']} cases failed)"
            )
        means = self.scorer_means()
        for name, minimum in sorted(spec.thresholds.scorers.items()):
            mean = means.get(name, {}).get("mean")
            if mean is not None and mean + _EPSILON < minimum:
                found.append(f"scorer {name} mean {mean:.2f} < minimum {minimum:.2f}")
        if self.comparison is not None:
            if self.comparison.baseline.verdict == "error":
                found.append("the baseline run exceeded its error budget; nothing to compare")
            found += self.comparison.regressions
        return found

    @property
    def verdict(self) -> Status:
        failures = self.failures()
        if self.errors() > self.suite.spec.error_budget or self.pass_rate() is None:
            return "error"
        if self.comparison is not None and self.comparison.baseline.verdict == "error":
            return "error"
        return "fail" if failures else "pass"

    def failing_cases(self) -> list[CaseResult]:
        return [c for c in self.cases if c.status != "pass"]

    def as_dict(self) -> dict[str, Any]:
        return {
            "suite": self.suite.summary(),
            "bundle": self.target.as_dict(),
            "verdict": self.verdict,
            "failures": self.failures(),
            "thresholds": self.suite.spec.thresholds.model_dump(mode="json"),
            "totals": self.totals(),
            "scorers": self.scorer_means(),
            "cases": [c.as_dict() for c in self.cases],
            "baseline": self.comparison.as_dict() if self.comparison else None,
        }


def compare(candidate: SuiteResult, baseline: SuiteResult) -> Comparison:
    """Regressions beyond the suite's ``max_regression``, and the cases that flipped."""
    limit = candidate.suite.spec.max_regression
    regressions: list[str] = []
    before, after = baseline.pass_rate(), candidate.pass_rate()
    if before is not None and after is not None and before - after > limit + _EPSILON:
        regressions.append(
            f"pass_rate regressed {before:.2f} -> {after:.2f} (max_regression {limit:.2f})"
        )
    old_means, new_means = baseline.scorer_means(), candidate.scorer_means()
    for name in sorted(old_means.keys() & new_means.keys()):
        old, new = old_means[name]["mean"], new_means[name]["mean"]
        if old - new > limit + _EPSILON:
            regressions.append(
                f"scorer {name} mean regressed {old:.2f} -> {new:.2f} (max_regression {limit:.2f})"
            )
    old_status = {c.case.id: c.status for c in baseline.cases}
    flipped = [
        c.case.id
        for c in candidate.cases
        if c.status == "fail" and old_status.get(c.case.id) == "pass"
    ]
    fixed = [
        c.case.id
        for c in candidate.cases
        if c.status == "pass" and old_status.get(c.case.id) == "fail"
    ]
    return Comparison(baseline, limit, regressions, flipped, fixed)
