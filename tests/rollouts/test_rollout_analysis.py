"""Plan checks and verdicts: significant regressions fail, noise and small samples do not."""

from __future__ import annotations

import random

import pytest
from scipy import stats

from app.bundles.rollout_spec import (
    AnalysisSettings,
    RolloutStart,
    ShadowSettings,
    Step,
    build_plan,
)
from app.errors import BadRequestError
from app.rollouts.analysis import ArmSample, ShadowSample, analyze_canary, analyze_shadow
from app.rollouts.compare import Answer, answer_text, compare

SETTINGS = AnalysisSettings()
STEP = Step(weight=25, min_requests=50, min_duration_s=0)


def arm(n: int, errors: int = 0, latency: float = 100.0, spread: float = 10.0) -> ArmSample:
    rng = random.Random(n * 31 + errors)
    return ArmSample(
        requests=n,
        errors=errors,
        latencies_ms=tuple(rng.gauss(latency, spread) for _ in range(n - errors)),
    )


def plan_of(**body: object) -> list[float]:
    start = RolloutStart.model_validate({"candidate": "x@2", "reason": "r", **body})
    return [s.weight for s in build_plan(start).steps]


def test_plan_prepends_the_shadow_step_and_fills_minimums() -> None:
    assert plan_of() == [0, 1, 5, 25, 50, 100]
    assert plan_of(shadow={"rate": 0}) == [1, 5, 25, 50, 100]
    assert plan_of(steps=[10, 100], shadow={"rate": 0.5}) == [0, 10, 100]
    start = RolloutStart.model_validate(
        {"candidate": "x@2", "reason": "r", "steps": [{"weight": 50, "min_requests": 7}, 100]}
    )
    steps = build_plan(start).steps
    assert steps[1].min_requests == 7 and steps[2].min_requests == 100


@pytest.mark.parametrize(
    ("steps", "problem"),
    [
        ([1, 150], "within [0, 100]"),
        ([-5, 100], "within [0, 100]"),
        ([5, 1, 100], "strictly increasing"),
        ([5, 5, 100], "strictly increasing"),
        ([1, 50], "last step must be 100"),
        ([], "must not be empty"),
    ],
)
def test_bad_steps_are_named(steps: list[float], problem: str) -> None:
    start = RolloutStart.model_validate({"candidate": "x@2", "reason": "r", "steps": steps})
    with pytest.raises(BadRequestError) as caught:
        build_plan(start)
    assert problem in caught.value.message and caught.value.param == "steps"


def test_a_zero_step_needs_shadow_traffic() -> None:
    start = RolloutStart(candidate="x@2", reason="r", steps=[0, 100], shadow=ShadowSettings(rate=0))
    with pytest.raises(BadRequestError, match="shadow step"):
        build_plan(start)


def test_below_the_minimum_sample_the_verdict_is_inconclusive() -> None:
    verdict = analyze_canary(arm(500), arm(20, errors=20), STEP, SETTINGS)
    assert verdict.outcome == "inconclusive" and "50 requests per arm" in verdict.reason


def test_a_significantly_higher_error_rate_fails() -> None:
    verdict = analyze_canary(arm(200), arm(100, errors=20), STEP, SETTINGS)
    assert verdict.outcome == "fail"
    (check,) = verdict.failures
    assert check.metric == "errors" and check.p_value is not None and check.p_value < 0.001
    assert "always-valid p=" in check.detail and check.level is not None


def test_alpha_is_split_over_the_steps_then_across_the_metrics() -> None:
    verdict = analyze_canary(arm(200), arm(100, errors=20), STEP, SETTINGS, steps=5)
    assert verdict.alpha["rollout"] == 0.05 and verdict.alpha["step"] == pytest.approx(0.01)
    levels = sorted(c.level for c in verdict.checks if c.level is not None)
    # errors, guardrail_blocks, latency tested (fallbacks is a ceiling): Holm's levels.
    assert levels[0] == pytest.approx(0.01 / 3)
    assert "Holm" in verdict.as_dict()["alpha"]["method"]


def test_evidence_that_one_look_calls_significant_is_not_enough() -> None:
    """5 errors in 100 against 1 in 300: Fisher's one-look p is 0.004; the loop looks often,
    and a default plan has 6 steps to spend alpha on."""
    stable, canary = arm(300, errors=1), arm(100, errors=5)
    assert stats.fisher_exact([[5, 95], [1, 299]], alternative="greater").pvalue < 0.01
    assert analyze_canary(stable, canary, STEP, SETTINGS, steps=6).outcome == "pass"
    clear = analyze_canary(stable, arm(100, errors=12), STEP, SETTINGS, steps=6)
    assert clear.outcome == "fail"


def test_equal_arms_pass() -> None:
    verdict = analyze_canary(arm(200, errors=4), arm(100, errors=2), STEP, SETTINGS)
    assert verdict.outcome == "pass", verdict.reason


def test_an_insignificant_or_tiny_difference_passes() -> None:
    assert analyze_canary(arm(60, errors=1), arm(60, errors=3), STEP, SETTINGS).outcome == "pass"
    tiny = AnalysisSettings(error_rate_effect=0.05)  # significant, but below the effect size
    assert analyze_canary(arm(5000), arm(5000, errors=100), STEP, tiny).outcome == "pass"


def test_slower_latency_fails_only_past_the_minimum_effect() -> None:
    slow = analyze_canary(arm(200, latency=100), arm(200, latency=400), STEP, SETTINGS)
    assert [c.metric for c in slow.failures] == ["latency"]
    assert "Mann-Whitney, always-valid p=" in slow.failures[0].detail
    # 5 ms slower on 100 ms is significant but below 20% and 50 ms: not a regression.
    small = analyze_canary(arm(500, latency=100), arm(500, latency=105), STEP, SETTINGS)
    assert small.outcome == "pass"


def test_hard_ceilings_apply_to_the_candidate_alone() -> None:
    ceilings = AnalysisSettings(max_error_rate=0.05, max_latency_p95_ms=300)
    bad = analyze_canary(arm(100, errors=10), arm(100, errors=10), STEP, ceilings)
    assert bad.outcome == "fail" and "ceiling" in bad.reason
    slow = analyze_canary(arm(100, latency=500), arm(100, latency=500), STEP, ceilings)
    assert slow.outcome == "fail" and "p95" in slow.reason


def test_the_full_step_without_a_baseline_arm_uses_ceilings_only() -> None:
    full = Step(weight=100, min_requests=50, min_duration_s=0)
    assert analyze_canary(None, arm(100, errors=30), full, SETTINGS).outcome == "pass"
    ceilings = AnalysisSettings(max_error_rate=0.1)
    assert analyze_canary(None, arm(100, errors=30), full, ceilings).outcome == "fail"


def shadow(pairs: int, candidate_errors: int = 0, disagreements: int = 0) -> ShadowSample:
    return ShadowSample(
        pairs=pairs,
        primary=arm(pairs),
        candidate=arm(pairs, errors=candidate_errors),
        compared=pairs - candidate_errors,
        disagreements=disagreements,
    )


def test_shadow_verdicts() -> None:
    step = Step(weight=0, min_requests=40, min_duration_s=0)
    assert analyze_shadow(shadow(10), step, SETTINGS).outcome == "inconclusive"
    assert analyze_shadow(shadow(100), step, SETTINGS).outcome == "pass"
    errors = analyze_shadow(shadow(100, candidate_errors=20), step, SETTINGS)
    assert [c.metric for c in errors.failures] == ["errors"]
    differs = analyze_shadow(shadow(100, disagreements=80), step, SETTINGS)
    assert [c.metric for c in differs.failures] == ["disagreement"]
    only_errors = AnalysisSettings(metrics=["errors"])
    assert analyze_shadow(shadow(100, disagreements=80), step, only_errors).outcome == "pass"


def test_compare_measures_what_differs() -> None:
    same = compare(Answer(True, "hello world", 10, 5), Answer(True, "hello world", 30, 7))
    assert same.exact_match and same.similarity == 1.0 and same.latency_delta_ms == 20
    assert same.token_delta == 2 and same.length_ratio == 1.0 and same.json_equal is None
    reordered = compare(Answer(True, '{"a": 1, "b": [1]}', 1), Answer(True, '{"b":[1],"a":1}', 1))
    assert reordered.json_equal and reordered.json_shape_equal and not reordered.exact_match
    shape = compare(Answer(True, '{"a": 1}', 1), Answer(True, '{"a": 2}', 1))
    assert shape.json_equal is False and shape.json_shape_equal is True
    failed = compare(Answer(True, "x", 1), Answer(False, None, 1, error="provider_error: boom"))
    assert failed.similarity is None and not failed.exact_match


def test_answer_text_of_completions_and_streams() -> None:
    message = {"choices": [{"message": {"content": "hi there"}}]}
    assert answer_text(message) == "hi there"
    chunks = [
        {"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]},
        {"choices": [{"index": 0, "delta": {"content": "hi "}}]},
        {"choices": [{"index": 0, "delta": {"content": "there"}}]},
        {"choices": [], "usage": {"total_tokens": 3}},
    ]
    assert answer_text(chunks) == "hi there"
    tool = {"choices": [{"message": {"content": None, "tool_calls": [{"id": "c1"}]}}]}
    assert answer_text(tool) == '[{"id":"c1"}]'
