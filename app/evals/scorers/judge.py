"""``llm_judge``: another model grades the answer against a rubric.

The judge is itself a Pinyard system (a bundle path, ``name@N``/``name@sha256:``
or ``alias@env``), run through the same pipeline as the system under test, so
its version is pinned and recorded too. It is asked for a JSON verdict
``{"verdict": "pass"|"fail", "score": 0..1, "reasoning": "..."}``; the verdict
and reasoning are kept in the results. A judge that cannot be reached is an
infrastructure error (the error budget), not a failed case.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import Field

from app.evals.scorers.scorer import (
    JudgeUnavailable,
    Observation,
    Score,
    ScoreEnv,
    Scorer,
    ScorerParams,
    clip,
)
from app.evals.targets import CallFailed, output_text

INSTRUCTIONS = """You grade the output of an AI system against a rubric.

Rubric:
{rubric}

Reply with one JSON object and nothing else:
{{"verdict": "pass" or "fail", "score": a number from 0 to 1,
 "reasoning": "one or two sentences"}}"""

_OBJECT = re.compile(r"\{.*\}", re.DOTALL)


class JudgeParams(ScorerParams):
    judge: str = Field(min_length=1)
    rubric: str = Field(min_length=1)
    # Used when the judge gives a score but no verdict.
    threshold: float = Field(default=0.5, ge=0, le=1)
    variables: dict[str, Any] = Field(default_factory=dict)


def judge_body(rubric: str, obs: Observation, variables: dict[str, Any]) -> dict[str, Any]:
    conversation = "\n".join(
        f"{m.role}: {m.content if isinstance(m.content, str) else json.dumps(m.content)}"
        for m in obs.case.messages
    )
    user = f"Conversation:\n{conversation}\n\nOutput to grade:\n{obs.output}"
    return {
        "messages": [
            {"role": "system", "content": INSTRUCTIONS.format(rubric=rubric.strip())},
            {"role": "user", "content": user},
        ],
        "variables": variables,
    }


def parse_verdict(text: str) -> dict[str, Any] | None:
    """The judge's JSON object, or None when its reply holds none."""
    for candidate in (text.strip(), *(m.group(0) for m in _OBJECT.finditer(text))):
        try:
            value = json.loads(candidate)
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict) and ("verdict" in value or "score" in value):
            return value
    return None


class LlmJudge(Scorer):
    type = "llm_judge"
    params_model = JudgeParams

    def __init__(self, params: ScorerParams) -> None:
        super().__init__(params)
        assert isinstance(params, JudgeParams)
        self.judge = params.judge

    async def score(self, obs: Observation, env: ScoreEnv) -> Score:
        p = self.params
        assert isinstance(p, JudgeParams)
        if env.ask_judge is None:
            raise JudgeUnavailable(f"no judge runner for {p.judge}")
        try:
            reply = await env.ask_judge(p.judge, judge_body(p.rubric, obs, p.variables))
        except CallFailed as exc:
            if exc.infrastructure:
                raise JudgeUnavailable(f"judge {p.judge}: {exc.message}") from exc
            return self.result(0, False, f"judge {p.judge} refused: {exc.message}")
        text = output_text(reply.response)
        verdict = parse_verdict(text)
        details: dict[str, Any] = {"judge": p.judge, "judge_model": reply.model}
        if verdict is None:
            details["raw"] = text
            return self.result(0, False, f"judge reply is not a verdict: {clip(text)!r}", details)
        return self._decide(verdict, details)

    def _decide(self, verdict: dict[str, Any], details: dict[str, Any]) -> Score:
        p = self.params
        assert isinstance(p, JudgeParams)
        word = str(verdict.get("verdict", "")).strip().lower()
        said: bool | None = {"pass": True, "true": True, "fail": False, "false": False}.get(word)
        raw_score = verdict.get("score")
        try:
            score = float(raw_score) if raw_score is not None else None
        except (TypeError, ValueError):
            score = None
        if score is not None and score > 1.0 and score <= 10.0:
            score = score / 10  # a judge that answered on a 0-10 scale
        if score is None:
            score = 1.0 if said else 0.0
        passed = said if said is not None else score >= p.threshold
        reasoning = str(verdict.get("reasoning", "")).strip()
        details.update(
            {"verdict": "pass" if passed else "fail", "score": score, "reasoning": reasoning}
        )
        return self.result(
            score, passed, f"judge: {clip(reasoning, 120) or word or 'no reasoning'}", details
        )
