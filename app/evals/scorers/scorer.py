"""What every scorer sees and returns.

A scorer turns one observed answer into a score in [0, 1], a pass/fail and a
reason a human can act on. Parameters are validated when the suite loads, so a
typo in a suite is bad input (exit 2), never a failed case.
"""

from __future__ import annotations

import builtins
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from app.evals.suite import Case
    from app.evals.targets import Reply


class ScorerParams(BaseModel):
    """Options shared by every scorer; each type adds its own (unknown keys refused)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str
    # The name thresholds refer to; defaults to the type.
    name: str | None = Field(default=None, min_length=1, max_length=100)


@dataclass(frozen=True, slots=True)
class Observation:
    """One answer of the system under test to one repeat of one case."""

    case: Case
    output: str  # the first choice's text (or its tool call as JSON)
    reply: Reply
    output_schema: dict[str, Any] | None  # the bundle's, for json_schema without a schema

    @property
    def response(self) -> dict[str, Any]:
        return self.reply.response


@dataclass(frozen=True, slots=True)
class Score:
    name: str
    type: str
    score: float
    passed: bool
    reason: str
    details: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "score": round(self.score, 6),
            "passed": self.passed,
            "reason": self.reason,
        }
        if self.details is not None:
            data["details"] = self.details
        return data


class JudgeUnavailable(Exception):
    """The judge itself could not answer (provider trouble): infrastructure, not a verdict."""


# Ask a judge (by its reference in the suite) one chat body; returns its reply.
AskJudge = Callable[[str, dict[str, Any]], Awaitable["Reply"]]


@dataclass(frozen=True, slots=True)
class ScoreEnv:
    """What scorers may call out to during a run (today: the suite's judges)."""

    ask_judge: AskJudge | None = None


class Scorer(ABC):
    """Base class: override ``check`` (sync) or ``score`` (async, e.g. a judge)."""

    type: ClassVar[str]
    # (``builtins.type``: the class attribute ``type`` shadows the builtin here.)
    params_model: ClassVar[builtins.type[ScorerParams]] = ScorerParams

    def __init__(self, params: ScorerParams) -> None:
        self.params = params
        self.name = params.name or params.type

    @abstractmethod
    async def score(self, obs: Observation, env: ScoreEnv) -> Score:
        """Judge one observation; the judge scorer awaits another model here."""

    def result(
        self, score: float, passed: bool, reason: str, details: dict[str, Any] | None = None
    ) -> Score:
        return Score(
            self.name, self.type, min(1.0, max(0.0, float(score))), passed, reason, details
        )

    def binary(self, passed: bool, ok: str, failed: str) -> Score:
        return self.result(1.0 if passed else 0.0, passed, ok if passed else failed)


class SyncScorer(Scorer):
    """A scorer that needs nothing but the observation."""

    async def score(self, obs: Observation, env: ScoreEnv) -> Score:
        return self.check(obs)

    @abstractmethod
    def check(self, obs: Observation) -> Score: ...


def clip(text: str, limit: int = 80) -> str:
    """A short, single-line excerpt for reasons."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
