"""Each scorer on a passing and a failing answer; bad options are refused at load."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.errors import SuiteInvalid
from app.evals.scorers import SCORERS, ScoreEnv, build_scorer
from app.evals.scorers.scorer import JudgeUnavailable
from app.evals.targets import CallFailed, Reply
from tests.evals.eval_helpers import observe, reply

CASES: list[tuple[dict[str, Any], str, str, dict[str, Any]]] = [
    # config, passing output, failing output, observation extras
    ({"type": "exact", "value": "Hello"}, " Hello\n", "Hello!", {}),
    ({"type": "exact", "value": "hello", "ignore_case": True}, "HELLO", "help", {}),
    ({"type": "contains", "value": "1234"}, "order 1234 ok", "order 12 ok", {}),
    ({"type": "contains", "values": ["a1", "b2"]}, "a1 b2", "a1 only", {}),
    ({"type": "contains", "value": "refund", "negate": True}, "no money", "a refund!", {}),
    ({"type": "icontains", "value": "ORDER"}, "your order", "your parcel", {}),
    ({"type": "regex", "pattern": r"order \d+"}, "order 42", "order x", {}),
    ({"type": "regex", "pattern": "^hi", "flags": "i"}, "HI there", "oh hi", {}),
    ({"type": "json_valid"}, '{"a": 1}', "{a: 1}", {}),
    ({"type": "json_valid"}, '```json\n{"a": 1}\n```', "not json", {}),
    (
        {"type": "json_schema", "schema": {"type": "object", "required": ["id"]}},
        '{"id": 1}',
        '{"name": 1}',
        {},
    ),
    (
        {"type": "json_schema"},  # the bundle's output_schema
        '{"id": "x"}',
        '{"id": 3}',
        {"output_schema": {"type": "object", "properties": {"id": {"type": "string"}}}},
    ),
    (
        {"type": "similarity", "expected": "your order ships today", "threshold": 0.8},
        "Your order ships today.",
        "we lost it",
        {},
    ),
    ({"type": "python", "function": "tests.evals.checks_fixture:has_digits"}, "a1", "ab", {}),
]


@pytest.mark.parametrize(("config", "good", "bad", "extra"), CASES)
async def test_scorer_passes_and_fails(
    config: dict[str, Any], good: str, bad: str, extra: dict[str, Any]
) -> None:
    scorer = build_scorer(config)
    passed = await scorer.score(observe(good, **extra), ScoreEnv())
    failed = await scorer.score(observe(bad, **extra), ScoreEnv())
    assert passed.passed and passed.score >= 0.8
    assert 0.0 <= failed.score < 1.0 and not failed.passed
    assert failed.reason and passed.reason
    assert passed.name == config.get("name", config["type"])


@pytest.mark.parametrize(
    ("config", "latency", "cost", "passes", "score"),
    [
        ({"type": "latency_ms", "max": 100}, 50.0, 0.0, True, 1.0),
        ({"type": "latency_ms", "max": 100}, 400.0, 0.0, False, 0.25),
        ({"type": "cost", "max_usd": 0.01}, 1.0, 0.005, True, 1.0),
        ({"type": "cost", "max_usd": 0.01}, 1.0, 0.04, False, 0.25),
        ({"type": "cost", "max_usd": 0.01}, 1.0, None, False, 0.0),  # no known price
    ],
)
async def test_ceilings_are_graded(
    config: dict[str, Any], latency: float, cost: float | None, passes: bool, score: float
) -> None:
    result = await build_scorer(config).score(
        observe("x", latency_ms=latency, cost_usd=cost), ScoreEnv()
    )
    assert result.passed is passes and result.score == pytest.approx(score)


async def test_python_scorer_results_and_exceptions() -> None:
    graded = build_scorer(
        {"type": "python", "function": "tests.evals.checks_fixture:graded", "threshold": 0.5}
    )
    result = await graded.score(observe("abc"), ScoreEnv())
    assert result.score == pytest.approx(0.6) and result.passed and result.reason == "graded"
    boom = build_scorer({"type": "python", "function": "tests.evals.checks_fixture:explodes"})
    failed = await boom.score(observe("abc"), ScoreEnv())
    assert not failed.passed and "raised RuntimeError: kaboom" in failed.reason


@pytest.mark.parametrize(
    ("config", "needle"),
    [
        ({"type": "bleu"}, "unknown scorer 'bleu'"),
        ({"type": "contains"}, "exactly one of 'value' and 'values'"),
        ({"type": "regex", "pattern": "("}, "invalid regular expression"),
        ({"type": "exact", "value": "a", "colour": "red"}, "colour: unknown field"),
        ({"type": "json_schema", "schema": {"type": "nope"}}, "not a valid JSON Schema"),
        ({"type": "python", "function": "no_such_module_xyz:f"}, "cannot import"),
        ({"type": "python", "function": "tests.evals.checks_fixture:missing"}, "has no function"),
        ({"type": "llm_judge", "judge": "judge@1"}, "rubric"),
    ],
)
def test_bad_scorer_configs_are_bad_input(config: dict[str, Any], needle: str) -> None:
    with pytest.raises(SuiteInvalid) as caught:
        build_scorer(config)
    assert needle in caught.value.message


def test_every_documented_scorer_exists() -> None:
    assert set(SCORERS) == {
        "exact",
        "contains",
        "icontains",
        "regex",
        "json_valid",
        "json_schema",
        "similarity",
        "llm_judge",
        "latency_ms",
        "cost",
        "python",
    }


def _judge_env(answer: str | CallFailed, seen: list[dict[str, Any]]) -> ScoreEnv:
    async def ask(reference: str, body: dict[str, Any]) -> Reply:
        seen.append({"reference": reference, **body})
        if isinstance(answer, CallFailed):
            raise answer
        return reply(answer, model="fake/judge")

    return ScoreEnv(ask_judge=ask)


JUDGE = {"type": "llm_judge", "judge": "judge@prod", "rubric": "Polite and mentions the order."}


async def test_llm_judge_keeps_verdict_and_reasoning() -> None:
    seen: list[dict[str, Any]] = []
    verdict = json.dumps({"verdict": "pass", "score": 0.9, "reasoning": "Polite, cites 1234."})
    result = await build_scorer(JUDGE).score(observe("Order 1234 ships"), _judge_env(verdict, seen))
    assert result.passed and result.score == pytest.approx(0.9)
    assert result.details is not None
    assert (
        result.details["reasoning"] == "Polite, cites 1234." and result.details["verdict"] == "pass"
    )
    assert seen[0]["reference"] == "judge@prod"
    assert "Polite and mentions the order." in seen[0]["messages"][0]["content"]
    assert "Order 1234 ships" in seen[0]["messages"][1]["content"]


@pytest.mark.parametrize(
    ("answer", "passes"),
    [
        ('Sure: {"verdict": "fail", "score": 0.2, "reasoning": "rude"}', False),
        ('{"score": 0.7, "reasoning": "ok"}', True),  # no verdict: the threshold decides
        ("I think it is fine", False),  # not a verdict at all
    ],
)
async def test_llm_judge_parses_or_fails(answer: str, passes: bool) -> None:
    result = await build_scorer(JUDGE).score(observe("x"), _judge_env(answer, []))
    assert result.passed is passes


async def test_unreachable_judge_is_infrastructure() -> None:
    env = _judge_env(CallFailed("HTTP 503", infrastructure=True), [])
    with pytest.raises(JudgeUnavailable):
        await build_scorer(JUDGE).score(observe("x"), env)
