"""Eval suites: ``evals/<suite>.yaml`` loaded, checked and given a content digest.

A suite names its cases (inline, or a ``.jsonl`` file beside it), the scorers
applied to every case, per-case ``expectations`` (more scorers), thresholds,
``repeats`` with a k-of-n rule and an error budget. Every problem is found
here, before any provider call, and named with its file (and line for JSONL).
The digest covers the resolved cases and scorers, so editing either changes it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import orjson
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from app.bundles.loader import describe_validation_error
from app.bundles.spec import NAME_PATTERN, canonical_json
from app.errors import SuiteInvalid
from app.evals.scorers import Scorer, build_scorer


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Message(_Strict):
    role: Literal["system", "user", "assistant", "developer", "tool"]
    content: Any = None
    name: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None


class Case(_Strict):
    id: str = Field(min_length=1, max_length=200)
    variables: dict[str, Any] = Field(default_factory=dict)
    messages: list[Message] = Field(min_length=1)
    expectations: list[dict[str, Any]] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)

    def wire_messages(self) -> list[dict[str, Any]]:
        return [m.model_dump(mode="json", exclude_none=True) for m in self.messages]


class Thresholds(_Strict):
    # Share of the cases (errored ones left out) that must pass.
    pass_rate: float = Field(default=1.0, ge=0, le=1)
    # Minimum mean score per scorer name.
    scorers: dict[str, float] = Field(default_factory=dict)


class SuiteSpec(_Strict):
    name: str = Field(pattern=NAME_PATTERN)
    description: str | None = None
    variables: dict[str, Any] = Field(default_factory=dict)  # defaults under each case's
    cases: list[Case] = Field(min_length=1)
    scorers: list[dict[str, Any]] = Field(default_factory=list)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    repeats: int = Field(default=1, ge=1, le=100)
    # k of the n repeats must pass; default: all of them.
    pass_k: int | None = Field(default=None, ge=1)
    # Provider errors (calls) tolerated as infrastructure before the run is an error.
    error_budget: int = Field(default=0, ge=0)
    # Largest drop of the pass rate or a scorer mean tolerated against a baseline.
    max_regression: float = Field(default=0.0, ge=0, le=1)
    # False: an answer from one of the bundle's fallbacks is not the bundle's answer; the
    # repeat is an error (as without fallbacks), counted against the error budget.
    allow_fallback: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> SuiteSpec:
        if self.pass_k is not None and self.pass_k > self.repeats:
            raise ValueError(f"pass_k ({self.pass_k}) cannot exceed repeats ({self.repeats})")
        seen: set[str] = set()
        for case in self.cases:
            if case.id in seen:
                raise ValueError(f"case id {case.id!r} is used twice")
            seen.add(case.id)
        return self

    @property
    def required_passes(self) -> int:
        return self.pass_k if self.pass_k is not None else self.repeats


@dataclass(frozen=True, slots=True)
class Suite:
    """A checked suite with its scorers built; ``digest`` identifies its content."""

    spec: SuiteSpec
    path: Path
    digest: str
    scorers: tuple[Scorer, ...]
    expectations: dict[str, tuple[Scorer, ...]]  # case id -> its own scorers

    @property
    def name(self) -> str:
        return self.spec.name

    def scorers_for(self, case: Case) -> tuple[Scorer, ...]:
        return self.scorers + self.expectations.get(case.id, ())

    def variables_for(self, case: Case) -> dict[str, Any]:
        return {**self.spec.variables, **case.variables}

    def judges(self) -> set[str]:
        """Every judge reference the suite's ``llm_judge`` scorers name."""
        found: set[str] = set()
        for scorer in self.scorers + tuple(s for v in self.expectations.values() for s in v):
            judge = getattr(scorer, "judge", None)
            if isinstance(judge, str):
                found.add(judge)
        return found

    def summary(self) -> dict[str, Any]:
        return {"name": self.name, "digest": self.digest, "path": str(self.path)}


def suite_digest(spec: SuiteSpec) -> str:
    return "sha256:" + hashlib.sha256(canonical_json(spec.model_dump(mode="json"))).hexdigest()


def load_suite(path: str | Path) -> Suite:
    path = Path(path)
    data = _read_yaml(path)
    if not isinstance(data, dict):
        raise SuiteInvalid(f"{path}: a suite must be a mapping, got {type(data).__name__}")
    data = dict(data)
    if isinstance(data.get("cases"), str):
        data["cases"] = _read_cases(path, data["cases"])
    try:
        spec = SuiteSpec.model_validate(data)
    except ValidationError as exc:
        raise SuiteInvalid(f"{path}: {describe_validation_error(exc)}") from exc
    scorers = tuple(_build(path, f"scorers[{i}]", config) for i, config in enumerate(spec.scorers))
    expectations = {
        case.id: tuple(
            _build(path, f"case {case.id!r} expectations[{i}]", config)
            for i, config in enumerate(case.expectations)
        )
        for case in spec.cases
        if case.expectations
    }
    suite = Suite(spec, path, suite_digest(spec), scorers, expectations)
    _check_coverage(suite)
    return suite


def _build(path: Path, where: str, config: dict[str, Any]) -> Scorer:
    try:
        return build_scorer(config)
    except SuiteInvalid as exc:
        raise SuiteInvalid(f"{path}: {where}: {exc.message}") from exc


def _check_coverage(suite: Suite) -> None:
    """Every case is scored, and every per-scorer threshold names a scorer in use."""
    names = {s.name for case in suite.spec.cases for s in suite.scorers_for(case)}
    unscored = [case.id for case in suite.spec.cases if not suite.scorers_for(case)]
    if unscored:
        raise SuiteInvalid(
            f"{suite.path}: cases with no scorer (add suite scorers or expectations): "
            + ", ".join(unscored)
        )
    unknown = sorted(set(suite.spec.thresholds.scorers) - names)
    if unknown:
        raise SuiteInvalid(
            f"{suite.path}: thresholds.scorers names scorers no case uses: {', '.join(unknown)} "
            f"(in use: {', '.join(sorted(names))})"
        )


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise SuiteInvalid(f"{path}: no such suite file") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise SuiteInvalid(f"{path}: cannot read: {exc}") from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SuiteInvalid(f"{path}: malformed YAML: {exc}") from exc


def _read_cases(suite_path: Path, relative: str) -> list[Any]:
    """Cases from a JSONL file beside the suite; a bad line is named with its number."""
    base = suite_path.parent.resolve()
    target = (base / relative).resolve()
    if not target.is_relative_to(base):
        raise SuiteInvalid(f"{suite_path}: cases file {relative!r} is outside the suite folder")
    try:
        lines = target.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError as exc:
        raise SuiteInvalid(f"{suite_path}: cases file {relative!r} does not exist") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise SuiteInvalid(f"{target}: cannot read: {exc}") from exc
    cases: list[Any] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise SuiteInvalid(f"{target}:{number}: not valid JSON: {exc}") from exc
        try:
            cases.append(Case.model_validate(value).model_dump(mode="json", exclude_none=True))
        except ValidationError as exc:
            raise SuiteInvalid(f"{target}:{number}: {describe_validation_error(exc)}") from exc
    return cases
