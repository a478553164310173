"""Scorers on the answer's text: exact, contains, icontains, regex, similarity.

``negate: true`` turns a match into a must-not-match (e.g. "never promises a
refund"); ``similarity`` is graded (rapidfuzz ratio / 100) and passes at its
``threshold``.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator
from rapidfuzz import fuzz

from app.evals.scorers.scorer import Observation, Score, ScorerParams, SyncScorer, clip


class ExactParams(ScorerParams):
    value: str
    strip: bool = True
    ignore_case: bool = False
    negate: bool = False


class Exact(SyncScorer):
    type = "exact"
    params_model = ExactParams

    def check(self, obs: Observation) -> Score:
        p = self.params
        assert isinstance(p, ExactParams)
        got, want = obs.output, p.value
        if p.strip:
            got, want = got.strip(), want.strip()
        if p.ignore_case:
            got, want = got.casefold(), want.casefold()
        equal = got == want
        if p.negate:
            return self.binary(not equal, "differs as required", f"equals {clip(p.value)!r}")
        return self.binary(equal, "exact match", f"expected {clip(p.value)!r}, got {clip(got)!r}")


class ContainsParams(ScorerParams):
    value: str | None = None
    values: list[str] | None = Field(default=None, min_length=1)
    negate: bool = False

    @model_validator(mode="after")
    def _one_of(self) -> ContainsParams:
        if (self.value is None) == (self.values is None):
            raise ValueError("give exactly one of 'value' and 'values'")
        return self

    def needles(self) -> list[str]:
        return [self.value] if self.value is not None else list(self.values or [])


class Contains(SyncScorer):
    """Every needle must appear (``negate``: none may); the score is the share satisfied."""

    type = "contains"
    params_model = ContainsParams
    fold = False

    def check(self, obs: Observation) -> Score:
        p = self.params
        assert isinstance(p, ContainsParams)
        needles = p.needles()
        haystack = obs.output.casefold() if self.fold else obs.output
        found = [n for n in needles if (n.casefold() if self.fold else n) in haystack]
        if p.negate:
            bad = found
            ok = len(needles) - len(bad)
            reason = "none of the forbidden text appears"
            if bad:
                reason = f"contains forbidden {', '.join(repr(b) for b in bad)}"
            return self.result(ok / len(needles), not bad, reason)
        missing = [n for n in needles if n not in found]
        reason = "contains all expected text"
        if missing:
            reason = f"missing {', '.join(repr(m) for m in missing)} in {clip(obs.output)!r}"
        return self.result(len(found) / len(needles), not missing, reason)


class IContains(Contains):
    type = "icontains"
    fold = True


class RegexParams(ScorerParams):
    pattern: str
    flags: str = Field(default="", pattern=r"^[ims]*$")  # i: ignore case, m: multiline, s: dotall
    negate: bool = False

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"invalid regular expression: {exc}") from exc
        return value


class Regex(SyncScorer):
    type = "regex"
    params_model = RegexParams

    def __init__(self, params: ScorerParams) -> None:
        super().__init__(params)
        assert isinstance(params, RegexParams)
        flags = 0
        for letter, flag in (("i", re.IGNORECASE), ("m", re.MULTILINE), ("s", re.DOTALL)):
            if letter in params.flags:
                flags |= flag
        self.regex = re.compile(params.pattern, flags)
        self.negate = params.negate

    def check(self, obs: Observation) -> Score:
        match = self.regex.search(obs.output)
        if self.negate:
            return self.binary(
                match is None,
                "no forbidden match",
                f"matches /{self.regex.pattern}/: {clip(match.group(0) if match else '')!r}",
            )
        return self.binary(
            match is not None,
            f"matches /{self.regex.pattern}/",
            f"no match for /{self.regex.pattern}/ in {clip(obs.output)!r}",
        )


class SimilarityParams(ScorerParams):
    expected: str
    threshold: float = Field(default=0.8, ge=0, le=1)
    method: Literal["ratio", "partial_ratio", "token_sort_ratio", "token_set_ratio"] = "ratio"
    ignore_case: bool = True


class Similarity(SyncScorer):
    type = "similarity"
    params_model = SimilarityParams

    def check(self, obs: Observation) -> Score:
        p = self.params
        assert isinstance(p, SimilarityParams)
        got, want = obs.output.strip(), p.expected.strip()
        if p.ignore_case:
            got, want = got.casefold(), want.casefold()
        value = getattr(fuzz, p.method)(got, want) / 100
        passed = value >= p.threshold
        comparison = ">=" if passed else "<"
        return self.result(
            value, passed, f"{p.method} {value:.2f} {comparison} threshold {p.threshold:.2f}"
        )
