"""Always-valid p-values and Holm's correction: the building blocks of the verdicts."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from app.rollouts.sequential import (
    holm,
    mann_whitney,
    mixture_p_value,
    rate_above_ceiling_p_value,
    two_proportions,
)


def test_no_evidence_of_worse_gives_p_one() -> None:
    for z in (-3.0, 0.0, float("nan")):
        assert mixture_p_value(z, 1000.0, 0.1) == 1.0
    assert mixture_p_value(5.0, 0.0, 0.1) == 1.0


def test_more_evidence_gives_smaller_p_values() -> None:
    values = [mixture_p_value(z, 500.0, 0.1) for z in (1.0, 2.0, 3.0, 4.0, 5.0)]
    assert values == sorted(values, reverse=True) and values[-1] < 1e-3


def test_always_valid_is_stricter_than_one_fixed_look() -> None:
    """z = 2.5 is 'significant' (p 0.006) for one look; for any look it is not at 0.01."""
    assert stats.norm.sf(2.5) < 0.01
    assert mixture_p_value(2.5, 2000.0, 0.1) > 0.01


def test_two_proportions_uses_the_pooled_variance() -> None:
    z, information = two_proportions(20, 100, 10, 100)
    pooled = 30 / 200
    variance = pooled * (1 - pooled) * (2 / 100)
    assert information == pytest.approx(1 / variance)
    assert z == pytest.approx(0.1 / variance**0.5)
    assert two_proportions(0, 100, 0, 100) == (0.0, 0.0)  # nothing failed: no information


def test_mann_whitney_agrees_with_scipy_ties_included() -> None:
    rng = np.random.default_rng(3)
    candidate = np.round(rng.lognormal(5.1, 0.4, 300))  # rounded: many ties
    baseline = np.round(rng.lognormal(5.0, 0.4, 700))
    z, information = mann_whitney(candidate, baseline)
    expected = stats.mannwhitneyu(
        candidate, baseline, alternative="greater", method="asymptotic", use_continuity=False
    )
    assert stats.norm.sf(z) == pytest.approx(expected.pvalue, rel=1e-9)
    assert information == pytest.approx(12 * 300 * 700 / 1001)
    assert mann_whitney(np.full(5, 7.0), np.full(5, 7.0)) == (0.0, 0.0)


def test_rate_above_a_ceiling() -> None:
    assert rate_above_ceiling_p_value(80, 100, 0.5) < 1e-6
    assert rate_above_ceiling_p_value(50, 100, 0.5) == 1.0
    assert rate_above_ceiling_p_value(30, 100, 0.5) == 1.0
    assert rate_above_ceiling_p_value(0, 0, 0.5) == 1.0
    # Valid for any number of looks, so stricter than a one-look binomial test.
    one_look = stats.binomtest(62, 100, 0.5, alternative="greater").pvalue
    assert one_look < 0.05 < rate_above_ceiling_p_value(62, 100, 0.5)


def test_holm_steps_down() -> None:
    decided = holm({"errors": 0.001, "latency": 0.02, "guardrail_blocks": 0.03}, 0.05)
    assert decided["errors"] == (pytest.approx(0.05 / 3), True)
    assert decided["latency"] == (pytest.approx(0.05 / 2), True)
    assert decided["guardrail_blocks"] == (pytest.approx(0.05), True)
    stops = holm({"errors": 0.001, "latency": 0.04, "guardrail_blocks": 0.045}, 0.05)
    assert stops["errors"][1] and not stops["latency"][1] and not stops["guardrail_blocks"][1]
    assert holm({}, 0.05) == {}
