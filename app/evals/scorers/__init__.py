"""Scorers by type, and ``build_scorer`` that checks a suite's scorer config."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from pydantic import ValidationError

from app.bundles.loader import describe_validation_error
from app.errors import SuiteInvalid
from app.evals.scorers.budget import Cost, Latency
from app.evals.scorers.custom import PythonCheck
from app.evals.scorers.judge import LlmJudge
from app.evals.scorers.scorer import Observation, Score, ScoreEnv, Scorer
from app.evals.scorers.structured import JsonSchema, JsonValid
from app.evals.scorers.text import Contains, Exact, IContains, Regex, Similarity

__all__ = ["SCORERS", "Observation", "Score", "ScoreEnv", "Scorer", "build_scorer"]

SCORERS: Mapping[str, type[Scorer]] = MappingProxyType(
    {
        cls.type: cls
        for cls in (
            Exact,
            Contains,
            IContains,
            Regex,
            JsonValid,
            JsonSchema,
            Similarity,
            LlmJudge,
            Latency,
            Cost,
            PythonCheck,
        )
    }
)


def build_scorer(config: Any) -> Scorer:
    """A scorer from its suite config; unknown types and bad options are ``SuiteInvalid``."""
    if not isinstance(config, dict):
        raise SuiteInvalid(f"a scorer must be a mapping with a 'type', got {config!r}")
    kind = config.get("type")
    cls = SCORERS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise SuiteInvalid(f"unknown scorer {kind!r} (known: {', '.join(sorted(SCORERS))})")
    try:
        params = cls.params_model.model_validate(config)
    except ValidationError as exc:
        raise SuiteInvalid(f"{kind}: {describe_validation_error(exc)}") from exc
    return cls(params)
