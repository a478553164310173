"""The samples a verdict is computed from, read for one step of one rollout.

Both arms are read for the same step: requests are tagged with the step that
served them, so the window is exactly "while this step was live", whichever
replica served them and whatever its clock says. At 100% there is no baseline
arm; the step is compared with the baseline arm of the last step that had one.
"""

from __future__ import annotations

from sqlmodel import Session

from app.bundles.rollout_spec import RolloutPlan
from app.registry.rollout_repo import ArmCounts, RolloutRepository, ShadowPairRepository
from app.registry.tables import RolloutRow, ShadowPairRow
from app.rollouts.analysis import ArmSample, ShadowSample
from app.rollouts.assignment import ARM_CANARY, ARM_STABLE
from app.rollouts.compare import agrees


def arm_sample(
    repo: RolloutRepository, rollout_id: str, step: int | None, arm: str, counts: ArmCounts | None
) -> ArmSample:
    counts = counts or ArmCounts()
    latencies = repo.arm_latencies(rollout_id, step, arm) if counts.requests else []
    return ArmSample(
        requests=counts.requests,
        errors=counts.errors,
        blocked=counts.blocked,
        fallbacks=counts.fallbacks,
        latencies_ms=tuple(latencies),
        prompt_tokens=counts.prompt_tokens,
        completion_tokens=counts.completion_tokens,
    )


def reference_step(plan: RolloutPlan, step: int) -> int | None:
    """The step whose baseline arm this step is compared with."""
    for index in range(step, -1, -1):
        if 0 < plan.step(index).weight < 100:
            return index
    return None


def canary_samples(
    session: Session, row: RolloutRow, plan: RolloutPlan, step: int
) -> tuple[ArmSample | None, ArmSample]:
    """(baseline arm or None, candidate arm) of a canary step."""
    repo = RolloutRepository(session)
    counts = repo.arm_counts(row.id, step)
    canary = arm_sample(repo, row.id, step, ARM_CANARY, counts.get(ARM_CANARY))
    ref = reference_step(plan, step)
    if ref is None:
        return None, canary
    if ref != step:
        counts = repo.arm_counts(row.id, ref)
    return arm_sample(repo, row.id, ref, ARM_STABLE, counts.get(ARM_STABLE)), canary


def total_samples(session: Session, row: RolloutRow) -> dict[str, ArmSample]:
    """Each arm over the whole rollout (every step)."""
    repo = RolloutRepository(session)
    counts = repo.arm_counts(row.id)
    return {arm: arm_sample(repo, row.id, None, arm, c) for arm, c in sorted(counts.items())}


def shadow_sample(
    session: Session, row: RolloutRow, step: int | None, threshold: float
) -> ShadowSample:
    return summarize_pairs(ShadowPairRepository(session).find(row.id, step), threshold)


def summarize_pairs(pairs: list[ShadowPairRow], threshold: float) -> ShadowSample:
    """Pairs whose client answer came from a fallback are baseline failures, not compared."""
    compared = [p for p in pairs if p.primary_ok and p.candidate_ok and not p.primary_fallback]
    disagreements = sum(
        1 for p in compared if not agrees(p.exact_match, p.json_equal, p.similarity, threshold)
    )
    return ShadowSample(
        pairs=len(pairs),
        primary=_side(pairs, primary=True),
        candidate=_side(pairs, primary=False),
        compared=len(compared),
        disagreements=disagreements,
    )


def _side(pairs: list[ShadowPairRow], *, primary: bool) -> ArmSample:
    """One side of the pairs; the candidate's shadow call never falls back."""
    ok = [p.primary_ok if primary else p.candidate_ok for p in pairs]
    fallback = [primary and p.primary_fallback for p in pairs]
    latencies = [
        p.primary_latency_ms if primary else p.candidate_latency_ms
        for p, good, other in zip(pairs, ok, fallback, strict=True)
        if good and not other
    ]
    tokens = [p.primary_tokens if primary else p.candidate_tokens for p in pairs]
    return ArmSample(
        requests=len(pairs),
        errors=ok.count(False),
        fallbacks=sum(1 for good, other in zip(ok, fallback, strict=True) if good and other),
        latencies_ms=tuple(latencies),
        total_tokens=sum(t or 0 for t in tokens),
    )
