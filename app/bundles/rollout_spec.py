"""What a rollout is asked to do: its steps, shadow settings and analysis settings.

A plan is a list of steps, each a canary weight (percent of subjects routed to
the candidate) with the minimum requests per arm and the minimum duration it
must pass for. Weight 0 is the shadow step: nobody is served by the candidate,
which answers sampled requests off the client's path for comparison. The last
step is always 100; passing it flips the alias to the candidate.
"""

from __future__ import annotations

import itertools
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.errors import BadRequestError

DEFAULT_STEPS = (1.0, 5.0, 25.0, 50.0, 100.0)
Metric = Literal["errors", "guardrail_blocks", "latency", "disagreement"]
ALL_METRICS: tuple[Metric, ...] = ("errors", "guardrail_blocks", "latency", "disagreement")

STATE_RUNNING = "running"
STATE_COMPLETED = "completed"
STATE_ROLLED_BACK = "rolled_back"
STATE_ABORTED = "aborted"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Step(_Model):
    weight: float  # percent of subjects on the candidate; 0 = the shadow step
    min_requests: int | None = Field(default=None, ge=1)  # per arm (pairs when shadowing)
    min_duration_s: float | None = Field(default=None, ge=0)

    @property
    def shadow(self) -> bool:
        return self.weight == 0


class ShadowSettings(_Model):
    rate: float = Field(default=0.1, ge=0, le=1)  # share of requests shadowed; 0: no shadow step
    max_concurrency: int = Field(default=4, ge=1, le=1000)  # candidate calls in flight
    daily_budget: int | None = Field(default=None, ge=1)  # candidate calls per UTC day


class AnalysisSettings(_Model):
    metrics: list[Metric] = Field(default_factory=lambda: list(ALL_METRICS))
    # The false-rollback rate of the whole rollout: split over its steps, then over
    # each step's tested metrics (Holm), each test always valid however often it looks.
    alpha: float = Field(default=0.05, gt=0, lt=0.5)
    # Minimum effects that count as a regression (besides being significant).
    error_rate_effect: float = Field(default=0.02, ge=0, le=1)  # absolute increase
    block_rate_effect: float = Field(default=0.02, ge=0, le=1)
    latency_effect: float = Field(default=0.2, ge=0)  # relative increase of the median
    latency_min_delta_ms: float = Field(default=50.0, ge=0)  # and at least this much
    # A shadow pair agrees when exact, JSON-equal or at least this similar (0..1).
    agree_similarity: float = Field(default=0.8, ge=0, le=1)
    # Hard ceilings on the candidate alone, once the minimum sample is in (None: off).
    max_error_rate: float | None = Field(default=None, ge=0, le=1)  # fallbacks count as errors
    max_fallback_rate: float | None = Field(default=None, ge=0, le=1)  # answers by a fallback
    max_block_rate: float | None = Field(default=None, ge=0, le=1)
    max_latency_p95_ms: float | None = Field(default=None, gt=0)
    max_disagreement: float | None = Field(default=0.5, ge=0, le=1)


def _default_steps() -> list[float | Step]:
    return list(DEFAULT_STEPS)


class RolloutStart(_Model):
    """``POST /admin/environments/{env}/aliases/{alias}/rollout``."""

    candidate: str  # REF: name@N or name@sha256:<hex>
    reason: str
    steps: list[float | Step] = Field(default_factory=lambda: _default_steps())
    min_requests: int = Field(default=100, ge=1)
    min_duration_s: float = Field(default=300.0, ge=0)
    shadow: ShadowSettings = Field(default_factory=ShadowSettings)
    analysis: AnalysisSettings = Field(default_factory=AnalysisSettings)
    override: bool = False  # start despite refusing promotion gates (audited)


class RolloutPlan(_Model):
    """The stored plan: steps with every minimum filled in."""

    steps: list[Step]
    shadow: ShadowSettings
    analysis: AnalysisSettings

    def step(self, index: int) -> Step:
        return self.steps[index]

    @property
    def last(self) -> int:
        return len(self.steps) - 1


def build_plan(body: RolloutStart) -> RolloutPlan:
    """Check the steps (a 400 naming the problem) and fill in the defaults."""
    steps = [s if isinstance(s, Step) else Step(weight=s) for s in body.steps]
    weights = [s.weight for s in steps]
    if not steps:
        raise BadRequestError("steps must not be empty (e.g. 1,5,25,50,100)", param="steps")
    outside = [w for w in weights if not 0 <= w <= 100]
    if outside:
        raise BadRequestError(
            f"step weights must be within [0, 100] percent; got {_fmt(outside)}", param="steps"
        )
    if any(b <= a for a, b in itertools.pairwise(weights)):
        raise BadRequestError(
            f"step weights must be strictly increasing; got {_fmt(weights)}", param="steps"
        )
    if weights[-1] != 100:
        raise BadRequestError(
            f"the last step must be 100 (the alias flips after it); got {_fmt(weights)}",
            param="steps",
        )
    if weights[0] == 0 and body.shadow.rate == 0:
        raise BadRequestError(
            "a 0% step is the shadow step; it needs a shadow rate above 0", param="steps"
        )
    if weights[0] != 0 and body.shadow.rate > 0:
        steps.insert(0, Step(weight=0))
    filled = [
        Step(
            weight=s.weight,
            min_requests=s.min_requests or body.min_requests,
            min_duration_s=body.min_duration_s if s.min_duration_s is None else s.min_duration_s,
        )
        for s in steps
    ]
    return RolloutPlan(steps=filled, shadow=body.shadow, analysis=body.analysis)


def _fmt(values: list[float]) -> str:
    return ",".join(f"{v:g}" for v in values)
