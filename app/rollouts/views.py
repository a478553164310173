"""What ``status`` and ``report`` answer: a rollout's state, its arms, its shadow pairs."""

from __future__ import annotations

from datetime import datetime
from statistics import fmean
from typing import Any

import orjson
from sqlmodel import Session

from app.bundles.rollout_spec import STATE_COMPLETED, STATE_RUNNING, RolloutPlan
from app.registry.bundle_repo import BundleRepository
from app.registry.rollout_repo import ShadowPairRepository
from app.registry.tables import RolloutRow, ShadowPairRow, as_utc
from app.registry.writes import bundle_ref
from app.rollouts.analysis import percentiles
from app.rollouts.compare import agrees
from app.rollouts.samples import canary_samples, shadow_sample, summarize_pairs, total_samples


def _iso(value: datetime | None) -> str | None:
    return as_utc(value).isoformat() if value else None


def rollout_view(session: Session, row: RolloutRow, now: datetime) -> dict[str, Any]:
    plan = RolloutPlan.model_validate_json(row.plan)
    bundles = BundleRepository(session)
    index = min(row.step, plan.last)
    step = plan.step(index)
    running = row.state == STATE_RUNNING
    until = as_utc(row.ended_at) if row.ended_at else now  # an ended step's clock stops
    threshold = plan.analysis.agree_similarity
    if step.shadow:
        sample = shadow_sample(session, row, index, threshold)
        current: dict[str, Any] = {
            "stable": sample.primary.summary(),
            "candidate": sample.candidate.summary(),
        }
    else:
        stable, canary = canary_samples(session, row, plan, index)
        current = {"canary": canary.summary()} | ({"stable": stable.summary()} if stable else {})
    shadow = summarize_pairs(ShadowPairRepository(session).find(row.id), threshold)
    return {
        "id": row.id,
        "environment": row.environment,
        "alias": row.alias,
        "state": row.state,
        "paused": row.paused,
        "baseline": bundle_ref(bundles.by_digest(row.baseline_digest)),
        "candidate": bundle_ref(bundles.by_digest(row.candidate_digest)),
        "step": {
            "index": index,
            "of": len(plan.steps),
            "kind": "shadow" if step.shadow else "canary",
            "weight": step.weight,
            # The candidate's share now: the step's while running; 100 or 0 once ended.
            "share": step.weight if running else 100.0 if row.state == STATE_COMPLETED else 0.0,
            "started_at": _iso(row.step_started_at),
            "elapsed_s": round((until - as_utc(row.step_started_at)).total_seconds(), 1),
            "min_requests": step.min_requests,
            "min_duration_s": step.min_duration_s,
        },
        "plan": plan.model_dump(),
        "verdict": orjson.loads(row.verdict) if row.verdict else None,
        "evaluated_at": _iso(row.evaluated_at),
        "arms": {
            "step": current,
            "total": {arm: s.summary() for arm, s in total_samples(session, row).items()},
        },
        "shadow": {
            "pairs": shadow.pairs,
            "compared": shadow.compared,
            "agreement_rate": round(1 - shadow.disagreements / shadow.compared, 6)
            if shadow.compared
            else None,
        },
        "version": row.version,
        "override": row.override,
        "created_at": _iso(row.created_at),
        "created_by": row.created_by,
        "reason": row.reason,
        "ended_at": _iso(row.ended_at),
        "end_reason": row.end_reason,
    }


def report_view(session: Session, row: RolloutRow, limit: int) -> dict[str, Any]:
    """Agreement over every shadow pair of the rollout, and the most different pairs."""
    plan = RolloutPlan.model_validate_json(row.plan)
    threshold = plan.analysis.agree_similarity
    pairs = ShadowPairRepository(session).find(row.id)
    compared = [p for p in pairs if p.primary_ok and p.candidate_ok]
    agreeing = [p for p in compared if agrees(p.exact_match, p.json_equal, p.similarity, threshold)]
    json_pairs = [p for p in compared if p.json_equal is not None]
    bundles = BundleRepository(session)
    return {
        "id": row.id,
        "environment": row.environment,
        "alias": row.alias,
        "state": row.state,
        "baseline": bundle_ref(bundles.by_digest(row.baseline_digest)),
        "candidate": bundle_ref(bundles.by_digest(row.candidate_digest)),
        "agree_similarity": threshold,
        "pairs": len(pairs),
        "compared": len(compared),
        "agreement_rate": _share(len(agreeing), len(compared)),
        "exact_match_rate": _share(sum(p.exact_match for p in compared), len(compared)),
        "json_equal_rate": _share(sum(bool(p.json_equal) for p in json_pairs), len(json_pairs)),
        "mean_similarity": _mean([p.similarity for p in compared]),
        "mean_length_ratio": _mean([p.length_ratio for p in compared]),
        "errors": {
            "baseline": sum(not p.primary_ok for p in pairs),
            "candidate": sum(not p.candidate_ok for p in pairs),
        },
        "latency_delta_ms": percentiles([p.latency_delta_ms for p in pairs]),
        "mean_token_delta": _mean([p.token_delta for p in pairs]),
        "most_different": [pair_view(p) for p in sorted(pairs, key=_difference)[:limit]],
    }


def pair_view(pair: ShadowPairRow) -> dict[str, Any]:
    return {
        "request_id": pair.request_id,
        "created_at": _iso(pair.created_at),
        "step": pair.step,
        "baseline": {
            "ok": pair.primary_ok,
            "text": pair.primary_text,
            "error": pair.primary_error,
            "latency_ms": pair.primary_latency_ms,
            "tokens": pair.primary_tokens,
        },
        "candidate": {
            "ok": pair.candidate_ok,
            "text": pair.candidate_text,
            "error": pair.candidate_error,
            "latency_ms": pair.candidate_latency_ms,
            "tokens": pair.candidate_tokens,
        },
        "exact_match": pair.exact_match,
        "similarity": pair.similarity,
        "json_equal": pair.json_equal,
        "json_shape_equal": pair.json_shape_equal,
        "length_ratio": pair.length_ratio,
        "latency_delta_ms": pair.latency_delta_ms,
        "token_delta": pair.token_delta,
    }


def _difference(pair: ShadowPairRow) -> float:
    """Sort key, most different first: one side failed, then the least similar."""
    if pair.primary_ok != pair.candidate_ok:
        return -1.0
    if not pair.primary_ok:
        return 2.0  # both failed: the same outcome
    return pair.similarity if pair.similarity is not None else 0.0


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 6) if whole else None


def _mean(values: list[float | int | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(fmean(present), 4) if present else None
