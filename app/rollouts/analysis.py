"""The verdict on one step: is the candidate significantly worse than the baseline?

Pure functions over samples (no database, no clock), so every decision can be
replayed from the evidence stored with it. The loop looks again every few
seconds, so every test gives an **always-valid** p-value (``app.rollouts.sequential``):
however often it is read, a true "no worse" is rejected with probability at most
its level. The rollout's ``alpha`` is its false-rollback rate: split evenly over
the plan's steps, and within a step over its tested metrics by Holm's step-down.

- error and guardrail-block rates: mSPRT on the difference of the two rates,
  failing only when significant *and* at least the configured absolute effect.
  An arm is judged on its own bundle: an answer served by a fallback counts as
  an error of that arm (the client got an answer; the bundle under test did not
  give it). The fallback rate is reported per arm and has its own ceiling;
- latency: mSPRT on the Mann-Whitney statistic of successful requests, failing
  only when significant and the median is slower by the relative *and* absolute
  minimum;
- shadow disagreement: an exact sequential test of the rate against the ceiling;
- hard ceilings on the candidate alone (error rate, block rate, p95 latency),
  not statistical: they fail as soon as the minimum sample is in.

Below the minimum sample the verdict is ``inconclusive`` and the step holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from app.bundles.rollout_spec import AnalysisSettings, Step
from app.rollouts.sequential import (
    holm,
    mann_whitney,
    mixture_p_value,
    rate_above_ceiling_p_value,
    two_proportions,
)

Outcome = Literal["pass", "fail", "inconclusive"]
MIN_LATENCY_SAMPLES = 5
# The mixtures' scales: the size of regression each test is tuned to find fastest
# (an absolute rate difference; a shift of P(candidate slower) from 1/2).
RATE_TAU = 0.1
LATENCY_TAU = 0.1
METHOD = "mSPRT always-valid p-values; Holm across a step's metrics; alpha split over the steps"


@dataclass(frozen=True, slots=True)
class ArmSample:
    """One arm over one window: request counts and its own bundle's latencies.

    ``errors``, ``blocked`` and ``fallbacks`` are disjoint: a request answered by a
    fallback is only a fallback. ``failures`` is what the arm's own bundle failed.
    """

    requests: int = 0
    errors: int = 0
    blocked: int = 0
    fallbacks: int = 0
    latencies_ms: tuple[float, ...] = ()
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int | None = None  # when only totals are known (shadow answers)

    @property
    def failures(self) -> int:
        return self.errors + self.fallbacks

    def summary(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "errors": self.failures,  # the arm's own bundle: error answers and fallbacks
            "error_rate": _rate(self.failures, self.requests),
            "fallbacks": self.fallbacks,
            "fallback_rate": _rate(self.fallbacks, self.requests),
            "blocked": self.blocked,
            "block_rate": _rate(self.blocked, self.requests),
            "latency_ms": percentiles(self.latencies_ms),
            "tokens": {
                "prompt": self.prompt_tokens,
                "completion": self.completion_tokens,
                "total": self.total_tokens
                if self.total_tokens is not None
                else self.prompt_tokens + self.completion_tokens,
            },
        }


@dataclass(frozen=True, slots=True)
class ShadowSample:
    """Shadow pairs of one window: the baseline as served, the candidate off-path."""

    pairs: int = 0
    primary: ArmSample = field(default_factory=ArmSample)
    candidate: ArmSample = field(default_factory=ArmSample)
    compared: int = 0  # pairs where both sides answered
    disagreements: int = 0


@dataclass(frozen=True, slots=True)
class Check:
    metric: str
    outcome: Outcome
    detail: str
    p_value: float | None = None  # always-valid
    level: float | None = None  # what p_value was held to (Holm, within the step's alpha)


@dataclass(frozen=True, slots=True)
class _Tested:
    """A metric's test before the correction across metrics decides it."""

    metric: str
    p_value: float
    large_enough: bool  # the effect reaches the configured minimum
    detail: str


@dataclass(frozen=True, slots=True)
class Verdict:
    outcome: Outcome
    checks: tuple[Check, ...]
    reason: str
    arms: dict[str, Any] = field(default_factory=dict)
    alpha: dict[str, Any] = field(default_factory=dict)  # the rollout's, the step's, how

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.outcome == "fail"]

    def as_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "reason": self.reason,
            "checks": [asdict(c) for c in self.checks],
            "arms": self.arms,
            "alpha": self.alpha,
        }


def step_alpha(settings: AnalysisSettings, steps: int) -> float:
    """The share of the rollout's alpha one step may spend (Bonferroni over the steps)."""
    return settings.alpha / max(1, steps)


def analyze_canary(
    stable: ArmSample | None,
    canary: ArmSample,
    step: Step,
    settings: AnalysisSettings,
    *,
    steps: int = 1,
) -> Verdict:
    """Compare the arms of one step of a plan of ``steps`` steps. ``stable`` is None when
    no baseline arm exists (a plan that goes straight to 100%): only the ceilings apply."""
    arms = {"canary": canary.summary()} | ({"stable": stable.summary()} if stable else {})
    needed = step.min_requests or 1
    short = [
        name
        for name, arm in (("canary", canary), ("stable", stable))
        if arm and arm.requests < needed
    ]
    if short:
        counts = ", ".join(f"{n} {arms[n]['requests']}" for n in short)
        reason = f"waiting for {needed} requests per arm ({counts})"
        return Verdict("inconclusive", (), reason, arms)
    checks: list[Check | _Tested] = []
    wanted = set(settings.metrics)
    if "errors" in wanted:
        checks.append(
            _rate_check(
                "errors",
                canary.failures,
                canary.requests,
                stable,
                stable.failures if stable else 0,
                settings.error_rate_effect,
                settings.max_error_rate,
                _fallback_note(canary, stable),
            )
        )
        checks.append(_fallback_check(canary, stable, settings))
    if "guardrail_blocks" in wanted:
        checks.append(
            _rate_check(
                "guardrail_blocks",
                canary.blocked,
                canary.requests,
                stable,
                stable.blocked if stable else 0,
                settings.block_rate_effect,
                settings.max_block_rate,
            )
        )
    if "latency" in wanted:
        checks.append(
            _latency_check(canary.latencies_ms, stable.latencies_ms if stable else None, settings)
        )
    return _verdict(checks, arms, settings, steps)


def analyze_shadow(
    sample: ShadowSample, step: Step, settings: AnalysisSettings, *, steps: int = 1
) -> Verdict:
    """The shadow step: candidate against the answers clients actually got."""
    arms = {
        "stable": sample.primary.summary(),
        "candidate": sample.candidate.summary(),
        "pairs": sample.pairs,
        "compared": sample.compared,
        "disagreements": sample.disagreements,
        "disagreement_rate": _rate(sample.disagreements, sample.compared),
    }
    needed = step.min_requests or 1
    if sample.pairs < needed:
        return Verdict(
            "inconclusive", (), f"waiting for {needed} shadow pairs ({sample.pairs})", arms
        )
    checks: list[Check | _Tested] = []
    wanted = set(settings.metrics)
    if "errors" in wanted:
        checks.append(
            _rate_check(
                "errors",
                sample.candidate.failures,
                sample.pairs,
                sample.primary,
                sample.primary.failures,
                settings.error_rate_effect,
                settings.max_error_rate,
                _fallback_note(sample.candidate, sample.primary),
            )
        )
    if "latency" in wanted:
        checks.append(
            _latency_check(sample.candidate.latencies_ms, sample.primary.latencies_ms, settings)
        )
    if "disagreement" in wanted:
        checks.append(_disagreement_check(sample, settings))
    return _verdict(checks, arms, settings, steps)


def _verdict(
    found: list[Check | _Tested], arms: dict[str, Any], settings: AnalysisSettings, steps: int
) -> Verdict:
    """Decide the tested metrics together (Holm at the step's alpha), then the verdict."""
    alpha = step_alpha(settings, steps)
    tested = {c.metric: c.p_value for c in found if isinstance(c, _Tested)}
    decided = holm(tested, alpha)
    checks = tuple(_decided(c, decided) if isinstance(c, _Tested) else c for c in found)
    budget = {"rollout": settings.alpha, "step": alpha, "steps": steps, "method": METHOD}
    failed = [c for c in checks if c.outcome == "fail"]
    if failed:
        return Verdict("fail", checks, "; ".join(c.detail for c in failed), arms, budget)
    return Verdict("pass", checks, "no significant regression", arms, budget)


def _decided(test: _Tested, decided: dict[str, tuple[float, bool]]) -> Check:
    level, rejected = decided[test.metric]
    worse = rejected and test.large_enough
    detail = f"{test.detail}, always-valid p={test.p_value:.4g} (level {level:.4g})"
    p_value = float(f"{test.p_value:.6g}")
    return Check(test.metric, "fail" if worse else "pass", detail, p_value, level)


def _rate_check(
    metric: str,
    bad: int,
    n: int,
    baseline: ArmSample | None,
    base_bad: int,
    min_effect: float,
    ceiling: float | None,
    note: str = "",
) -> Check | _Tested:
    rate = _rate(bad, n) or 0.0
    label = {"errors": "error", "guardrail_blocks": "guardrail-block"}.get(metric, metric)
    if ceiling is not None and rate > ceiling:
        detail = f"candidate {label} rate {rate:.3f} above ceiling {ceiling:g}{note}"
        return Check(metric, "fail", detail)
    if baseline is None:
        return Check(metric, "pass", f"candidate {label} rate {rate:.3f} (no baseline arm){note}")
    base_n = baseline.requests
    base_rate = _rate(base_bad, base_n) or 0.0
    z, information = two_proportions(bad, n, base_bad, base_n)
    detail = (
        f"{label} rate candidate {rate:.3f} ({bad}/{n}) vs baseline {base_rate:.3f} "
        f"({base_bad}/{base_n}){note}"
    )
    p = mixture_p_value(z, information, RATE_TAU)
    return _Tested(metric, p, rate - base_rate >= min_effect, detail)


def _fallback_note(candidate: ArmSample, baseline: ArmSample | None) -> str:
    base = baseline.fallbacks if baseline else 0
    if not (candidate.fallbacks or base):
        return ""
    return (
        f"; answers by a fallback count as errors (candidate {candidate.fallbacks}, "
        f"baseline {base})"
    )


def _fallback_check(
    canary: ArmSample, stable: ArmSample | None, settings: AnalysisSettings
) -> Check:
    """The fallback rate on its own: reported, and failed above ``max_fallback_rate``.

    Its significance is already part of the error-rate test (a fallback is an error
    of the arm's own bundle), so only the ceiling gates here.
    """
    rate = _rate(canary.fallbacks, canary.requests) or 0.0
    detail = f"fallback rate candidate {rate:.3f} ({canary.fallbacks}/{canary.requests})"
    if stable is not None:
        base = _rate(stable.fallbacks, stable.requests) or 0.0
        detail += f" vs baseline {base:.3f} ({stable.fallbacks}/{stable.requests})"
    ceiling = settings.max_fallback_rate
    if ceiling is not None and rate > ceiling:
        return Check("fallbacks", "fail", f"{detail} above ceiling {ceiling:g}")
    return Check("fallbacks", "pass", detail)


def _latency_check(
    candidate: tuple[float, ...], baseline: tuple[float, ...] | None, settings: AnalysisSettings
) -> Check | _Tested:
    import numpy as np  # lazily, like scipy: only replicas that analyse a rollout need it

    cand = np.asarray(candidate, dtype=float)
    if cand.size < MIN_LATENCY_SAMPLES:
        return Check("latency", "pass", f"too few successful candidate requests ({cand.size})")
    p95 = float(np.percentile(cand, 95))
    ceiling = settings.max_latency_p95_ms
    if ceiling is not None and p95 > ceiling:
        return Check("latency", "fail", f"candidate p95 {p95:.1f} ms above ceiling {ceiling:g} ms")
    base = np.asarray(baseline or (), dtype=float)
    if base.size < MIN_LATENCY_SAMPLES:
        return Check("latency", "pass", f"candidate p95 {p95:.1f} ms (no baseline latencies)")
    z, information = mann_whitney(cand, base)
    med_c, med_b = float(np.median(cand)), float(np.median(base))
    delta = med_c - med_b
    relative = delta / med_b if med_b > 0 else float("inf") if delta > 0 else 0.0
    detail = (
        f"median latency candidate {med_c:.1f} ms vs baseline {med_b:.1f} ms "
        f"({relative:+.0%}), Mann-Whitney"
    )
    large = delta >= settings.latency_min_delta_ms and relative >= settings.latency_effect
    return _Tested("latency", mixture_p_value(z, information, LATENCY_TAU), large, detail)


def _disagreement_check(sample: ShadowSample, settings: AnalysisSettings) -> Check | _Tested:
    k, n = sample.disagreements, sample.compared
    rate = _rate(k, n)
    ceiling = settings.max_disagreement
    if n == 0 or rate is None:
        return Check("disagreement", "pass", "no pair where both sides answered")
    if ceiling is None:
        return Check("disagreement", "pass", f"disagreement rate {rate:.3f} ({k}/{n}), not gated")
    detail = f"disagreement rate {rate:.3f} ({k}/{n}) vs ceiling {ceiling:g}, sequential binomial"
    return _Tested("disagreement", rate_above_ceiling_p_value(k, n, ceiling), True, detail)


def percentiles(values: Sequence[float]) -> dict[str, float | None]:
    """p50 and p95 of latencies in ms (numpy's linear interpolation), to the µs."""
    if not values:
        return {"p50": None, "p95": None}
    import numpy as np

    p50, p95 = np.percentile(np.asarray(values, dtype=float), [50, 95])
    return {"p50": round(float(p50), 3), "p95": round(float(p95), 3)}


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 6) if whole else None
