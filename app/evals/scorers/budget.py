"""Ceilings: latency in milliseconds and cost in US dollars, per answer.

Both are graded: at or under the ceiling scores 1; over it scores
``ceiling / observed``, so the mean shows how far over a run went. A cost the
price map does not know fails: a ceiling that cannot be checked is not met.
"""

from __future__ import annotations

from pydantic import Field

from app.evals.scorers.scorer import Observation, Score, ScorerParams, SyncScorer


class LatencyParams(ScorerParams):
    max: float = Field(gt=0)


class Latency(SyncScorer):
    type = "latency_ms"
    params_model = LatencyParams

    def check(self, obs: Observation) -> Score:
        p = self.params
        assert isinstance(p, LatencyParams)
        observed = obs.reply.latency_ms
        if observed <= p.max:
            return self.result(1, True, f"{observed:.0f} ms <= {p.max:.0f} ms")
        return self.result(p.max / observed, False, f"{observed:.0f} ms > {p.max:.0f} ms")


class CostParams(ScorerParams):
    max_usd: float = Field(ge=0)


class Cost(SyncScorer):
    type = "cost"
    params_model = CostParams

    def check(self, obs: Observation) -> Score:
        p = self.params
        assert isinstance(p, CostParams)
        observed = obs.reply.cost_usd
        if observed is None:
            return self.result(0, False, f"no price known for {obs.reply.model}; cannot check cost")
        if observed <= p.max_usd:
            return self.result(1, True, f"${observed:.6f} <= ${p.max_usd:.6f}")
        return self.result(p.max_usd / observed, False, f"${observed:.6f} > ${p.max_usd:.6f}")
