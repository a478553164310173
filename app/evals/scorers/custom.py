"""``python``: a custom check, ``module:function``, for what no built-in scorer covers.

The function gets the answer's text first, then (by name, only those it
declares) ``case`` (the case as a dict), ``response`` (the OpenAI response
dict), ``latency_ms`` and ``params`` (the scorer's ``params``). It returns a
bool, a score in [0, 1], a ``(score_or_bool, reason)`` pair or a dict with
``score``, ``passed`` and ``reason``. Modules are imported when the suite loads
(the working directory is importable, like ``python -m``), so a missing module
is bad input, not a failed case.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from collections.abc import Callable
from typing import Any

from pydantic import Field

from app.errors import SuiteInvalid
from app.evals.scorers.scorer import Observation, Score, ScorerParams, SyncScorer

_ARGUMENTS = ("case", "response", "latency_ms", "params")


class PythonParams(ScorerParams):
    function: str = Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
    params: dict[str, Any] = Field(default_factory=dict)
    # A numeric result passes at or above this.
    threshold: float = Field(default=1.0, ge=0, le=1)


def import_function(reference: str) -> Callable[..., Any]:
    module_name, _, attribute = reference.partition(":")
    if os.getcwd() not in sys.path:
        sys.path.append(os.getcwd())  # as `python -m` would; plugins live in the project
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise SuiteInvalid(
            f"python scorer {reference!r}: cannot import {module_name}: {exc}"
        ) from exc
    function = getattr(module, attribute, None)
    if not callable(function):
        raise SuiteInvalid(
            f"python scorer {reference!r}: {module_name} has no function {attribute}"
        )
    return function


class PythonCheck(SyncScorer):
    type = "python"
    params_model = PythonParams

    def __init__(self, params: ScorerParams) -> None:
        super().__init__(params)
        assert isinstance(params, PythonParams)
        self.function = import_function(params.function)
        signature = inspect.signature(self.function)
        takes_any = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
        self.arguments = tuple(a for a in _ARGUMENTS if takes_any or a in signature.parameters)

    def check(self, obs: Observation) -> Score:
        p = self.params
        assert isinstance(p, PythonParams)
        available = {
            "case": obs.case.model_dump(mode="json"),
            "response": obs.response,
            "latency_ms": obs.reply.latency_ms,
            "params": dict(p.params),
        }
        try:
            value = self.function(obs.output, **{a: available[a] for a in self.arguments})
        except Exception as exc:  # noqa: BLE001
            # The one broad catch: user code may raise anything, and its failure
            # is this case's failure (with the reason), not the whole run's.
            return self.result(0, False, f"{p.function} raised {type(exc).__name__}: {exc}")
        return self._interpret(value)

    def _interpret(self, value: Any) -> Score:
        p = self.params
        assert isinstance(p, PythonParams)
        reason = ""
        passed: bool | None = None
        if isinstance(value, tuple) and len(value) == 2:
            value, reason = value[0], str(value[1])
        if isinstance(value, dict):
            reason = str(value.get("reason", reason))
            passed = value.get("passed")
            value = value.get("score", 1.0 if passed else 0.0)
        if isinstance(value, bool):
            score = 1.0 if value else 0.0
        elif isinstance(value, int | float):
            score = float(value)
        else:
            return self.result(
                0, False, f"{p.function} returned {type(value).__name__}, not a bool or a score"
            )
        if not 0.0 <= score <= 1.0:
            return self.result(0, False, f"{p.function} returned score {score}, outside [0, 1]")
        if passed is None:
            passed = score >= p.threshold
        return self.result(score, bool(passed), reason or f"{p.function}: score {score:.2f}")
