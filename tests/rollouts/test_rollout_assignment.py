"""Sticky canary assignment: per subject, monotone across steps, the right share overall."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from app.rollouts.assignment import ARM_CANARY, ARM_STABLE, arm_for, bucket, subject_of

rollout_ids = st.text(min_size=1, max_size=30)
subjects = st.text(min_size=1, max_size=60)
weights = st.floats(min_value=0, max_value=100, allow_nan=False)
SUBJECTS = [f"user-{i}" for i in range(10_000)]


@given(rollout_ids, subjects, weights)
def test_a_subject_always_gets_the_same_arm(rollout: str, subject: str, weight: float) -> None:
    arms = {arm_for(rollout, subject, weight) for _ in range(5)}
    assert len(arms) == 1
    assert 0 <= bucket(rollout, subject) < 1


@given(rollout_ids, subjects, st.lists(weights, min_size=2, max_size=6))
def test_a_canary_subject_stays_canary_as_the_weight_grows(
    rollout: str, subject: str, steps: list[float]
) -> None:
    arms = [arm_for(rollout, subject, w) for w in sorted(steps)]
    first_canary = arms.index(ARM_CANARY) if ARM_CANARY in arms else len(arms)
    assert all(arm == ARM_CANARY for arm in arms[first_canary:])
    assert all(arm == ARM_STABLE for arm in arms[:first_canary])


@settings(max_examples=25, deadline=None)
@given(rollout_ids, st.sampled_from([1.0, 5.0, 25.0, 50.0, 75.0]))
def test_the_observed_canary_share_matches_the_weight(rollout: str, weight: float) -> None:
    share = sum(arm_for(rollout, s, weight) == ARM_CANARY for s in SUBJECTS) / len(SUBJECTS)
    p = weight / 100
    sigma = math.sqrt(p * (1 - p) / len(SUBJECTS))
    assert abs(share - p) <= 4.5 * sigma  # at 50%: within 2.25 points; at 1%: within 0.45


def test_edges_none_and_everyone() -> None:
    assert all(arm_for("ro_1", s, 0) == ARM_STABLE for s in SUBJECTS[:1000])
    assert all(arm_for("ro_1", s, 100) == ARM_CANARY for s in SUBJECTS[:1000])


def test_a_new_rollout_reshuffles_subjects() -> None:
    first = {s for s in SUBJECTS if arm_for("ro_a", s, 10) == ARM_CANARY}
    second = {s for s in SUBJECTS if arm_for("ro_b", s, 10) == ARM_CANARY}
    assert first != second and len(first & second) < len(first) / 2


def test_subject_prefers_user_then_header_then_key() -> None:
    headers = {"x-pinyard-subject": "acct-7", "authorization": "Bearer sk-abc"}
    assert subject_of({"user": "alice"}, headers) == "alice"
    assert subject_of({}, headers) == "acct-7"
    key = subject_of({}, {"authorization": "Bearer sk-abc"})
    assert key is not None and key.startswith("key:") and "sk-abc" not in key
    assert subject_of({}, {"x-api-key": "sk-abc"}) == key  # Anthropic SDKs: the same key
    assert subject_of({"user": ""}, {}) is None  # no subject: assigned per request


def test_without_a_subject_assignment_is_per_request() -> None:
    arms = {arm_for("ro_1", None, 50) for _ in range(200)}
    assert arms == {ARM_CANARY, ARM_STABLE}
