"""The runner: k-of-n repeats, the error budget, the response cache, preflight, baselines."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from app.bundles.spec import BundleSpec
from app.errors import SuiteInvalid
from app.evals.cache import ResponseCache
from app.evals.runner import RunOptions, SuiteRunner, run_with_baseline
from app.evals.suite import load_suite
from app.evals.targets import CallFailed, LocalTarget, TargetInfo
from app.gateway.prepare import prepare_chat
from app.providers.client import ProviderClient
from app.registry.compiled import compile_bundle
from tests.conftest import fake_spec
from tests.evals.eval_helpers import StubTarget, last_user, write_suite


def local_target(model: str = "fake/echo", **overrides: Any) -> LocalTarget:
    compiled = compile_bundle(BundleSpec.model_validate(fake_spec(model=model, **overrides)))
    info = TargetInfo(compiled.name, compiled.digest, None, model, "bundle", "test")
    providers = ProviderClient(backoff_base_s=0.0, backoff_max_s=0.0)
    return LocalTarget(compiled, providers, info, prepare=prepare_chat)


async def test_a_local_bundle_runs_through_the_gateway_pipeline(tmp_path: Path) -> None:
    suite = load_suite(write_suite(tmp_path))
    result = await SuiteRunner(suite, local_target()).run()
    assert result.verdict == "pass" and result.pass_rate() == 1.0
    first = result.cases[0].repeats[0]
    assert first.output == "[fake/echo] Where is order 1234?"
    assert first.cost_usd == 0.0 and first.latency_ms is not None and first.model == "fake/echo"
    assert result.totals()["calls"] == 2 and result.failures() == []


async def test_k_of_n_repeats(tmp_path: Path) -> None:
    """Case 'order' passes 2 of 3 repeats, 'again' 1 of 3; the rule is 2 of 3."""
    path = write_suite(tmp_path, repeats=3, pass_k=2, thresholds={"pass_rate": 0.5})
    suite = load_suite(path)

    def answer(body: dict[str, Any], _: int) -> str:
        text = last_user(body)
        repeat = answers.setdefault(text, 0)
        answers[text] += 1
        hits = 2 if "Where" in text else 1
        return "1234" if repeat < hits else "nothing"

    answers: dict[str, int] = {}
    result = await SuiteRunner(suite, StubTarget(answer)).run()
    by_id = {c.case.id: c for c in result.cases}
    assert (by_id["order"].passes, by_id["order"].status) == (2, "pass")
    assert (by_id["again"].passes, by_id["again"].status) == (1, "fail")
    assert by_id["again"].reasons() == ["contains: missing '1234' in 'nothing'"]
    assert result.pass_rate() == 0.5 and result.verdict == "pass"  # meets pass_rate 0.5


async def test_errors_within_the_budget_are_infrastructure_not_failures(tmp_path: Path) -> None:
    suite = load_suite(write_suite(tmp_path, repeats=2, pass_k=2, error_budget=1))

    def answer(body: dict[str, Any], number: int) -> str | CallFailed:
        if number == 0:
            return CallFailed("HTTP 503: upstream down", infrastructure=True)
        return last_user(body)

    result = await SuiteRunner(suite, StubTarget(answer), options=RunOptions(concurrency=1)).run()
    assert result.errors() == 1 and result.verdict == "pass"
    errored = result.cases[0]
    assert errored.status == "pass" and len(errored.completed) == 1  # needs min(2, 1) passes


async def test_error_budget_exceeded_on_fake_error_500(tmp_path: Path) -> None:
    suite = load_suite(write_suite(tmp_path, error_budget=1))
    result = await SuiteRunner(suite, local_target("fake/error-500")).run()
    assert result.errors() == 2 and result.verdict == "error"
    assert result.failures() == ["error budget exceeded: 2 provider errors > error_budget 1"]
    assert "502 provider_error" in (result.cases[0].repeats[0].error or "")


async def test_a_client_error_is_a_failed_case_not_an_error(tmp_path: Path) -> None:
    suite = load_suite(write_suite(tmp_path))
    result = await SuiteRunner(suite, local_target("fake/error-400")).run()
    assert result.errors() == 0 and result.verdict == "fail"
    assert result.cases[0].reasons()[0].startswith("the system answered 400")


async def test_the_cache_replays_answers_and_never_stores_errors(tmp_path: Path) -> None:
    suite = load_suite(write_suite(tmp_path, error_budget=5))
    cache_dir = tmp_path / "cache"

    def answer(body: dict[str, Any], _: int) -> str | CallFailed:
        if "again" in last_user(body) and flaky["on"]:
            return CallFailed("HTTP 500", infrastructure=True)
        return last_user(body)

    flaky = {"on": True}
    first = StubTarget(answer)
    one = await SuiteRunner(suite, first, options=RunOptions(cache=ResponseCache(cache_dir))).run()
    assert first.calls == 2 and one.errors() == 1
    flaky["on"] = False
    second = StubTarget(answer)
    cache = ResponseCache(cache_dir)
    two = await SuiteRunner(suite, second, options=RunOptions(cache=cache)).run()
    assert second.calls == 1 and cache.hits == 1  # only the errored call is made again
    assert two.errors() == 0 and two.totals()["cached"] == 1
    third = StubTarget(answer)
    await SuiteRunner(suite, third, options=RunOptions(cache=ResponseCache(cache_dir))).run()
    assert third.calls == 0  # a full re-run makes no provider calls


async def test_the_cache_is_keyed_by_digest_case_and_repeat(tmp_path: Path) -> None:
    suite = load_suite(write_suite(tmp_path, repeats=2))
    cache = ResponseCache(tmp_path / "cache")
    await SuiteRunner(
        suite, StubTarget(lambda b, n: last_user(b)), options=RunOptions(cache=cache)
    ).run()
    assert cache.stores == 4  # 2 cases x 2 repeats
    other = StubTarget(lambda b, n: last_user(b), name="other-bundle")
    await SuiteRunner(suite, other, options=RunOptions(cache=cache)).run()
    assert other.calls == 4  # another digest never reads these answers


async def test_preflight_refuses_undeclared_and_missing_variables(tmp_path: Path) -> None:
    target = StubTarget(lambda b, n: "x")
    undeclared = load_suite(
        write_suite(tmp_path / "a", variables={"customer_name": "A", "mood": 1})
    )
    with pytest.raises(SuiteInvalid) as caught:
        await SuiteRunner(undeclared, target).run()
    assert "case 'order' sets variables that support-chat@1 does not declare: mood" in (
        caught.value.message
    )
    missing = load_suite(write_suite(tmp_path / "b", variables={}))
    with pytest.raises(SuiteInvalid, match="missing template variables: customer_name"):
        await SuiteRunner(missing, target).run()
    assert target.calls == 0


async def test_preflight_requires_resolved_chat_judges(tmp_path: Path) -> None:
    judge = {"type": "llm_judge", "judge": "judge@prod", "rubric": "be nice"}
    suite = load_suite(write_suite(tmp_path, scorers=[judge]))
    target = StubTarget(lambda b, n: "x")
    with pytest.raises(SuiteInvalid, match="judge 'judge@prod' was not resolved"):
        await SuiteRunner(suite, target).run()
    embedder = StubTarget(lambda b, n: "x")
    embedder.compiled = compile_bundle(
        BundleSpec.model_validate({"name": "emb", "kind": "embedding", "model": "fake/embed"})
    )
    with pytest.raises(SuiteInvalid, match="embedding bundle"):
        await SuiteRunner(suite, target, {"judge@prod": embedder}).run()
    assert target.calls == 0


async def test_a_judge_runs_through_a_pinyard_bundle(tmp_path: Path) -> None:
    """A fake judge bundle whose response format forces a deterministic verdict."""
    verdict_schema = {
        "type": "object",
        "properties": {
            "verdict": {"enum": ["pass"]},
            "score": {"type": "number", "minimum": 1},
            "reasoning": {"type": "string", "minLength": 3},
        },
        "required": ["verdict", "score", "reasoning"],
    }
    judge_format = {"type": "json_schema", "json_schema": {"name": "v", "schema": verdict_schema}}
    judge = local_target(
        name="judge", params={"response_format": judge_format}, prompt={}, variables_schema=None
    )
    rubric = {"type": "llm_judge", "judge": "judge@1", "rubric": "Mentions the order number."}
    suite = load_suite(write_suite(tmp_path, scorers=[rubric]))
    result = await SuiteRunner(suite, local_target(), {"judge@1": judge}).run()
    score = result.cases[0].repeats[0].scores[0]
    assert score.passed and score.details is not None and score.details["verdict"] == "pass"
    assert score.details["judge"] == "judge@1" and "reasoning" in score.details


async def test_baseline_comparison_lists_flipped_cases(tmp_path: Path) -> None:
    suite = load_suite(write_suite(tmp_path, thresholds={"pass_rate": 0.5}, max_regression=0.1))
    good = StubTarget(lambda b, n: last_user(b))
    worse = StubTarget(lambda b, n: "1234" if "Where" in last_user(b) else "lost it", name="v2")
    result = await run_with_baseline(suite, worse, good)
    assert result.comparison is not None
    assert result.comparison.flipped == ["again"] and result.comparison.fixed == []
    assert result.comparison.regressions == [
        "pass_rate regressed 1.00 -> 0.50 (max_regression 0.10)",
        "scorer contains mean regressed 1.00 -> 0.50 (max_regression 0.10)",
    ]
    assert result.verdict == "fail"  # its own thresholds pass; the regression fails it
    same = await run_with_baseline(suite, good, StubTarget(lambda b, n: last_user(b)))
    assert same.verdict == "pass" and same.comparison is not None
    assert same.comparison.regressions == []


async def test_concurrency_is_bounded(tmp_path: Path) -> None:
    cases = [{"id": f"c{i}", "messages": [{"role": "user", "content": "1234"}]} for i in range(12)]
    suite = load_suite(write_suite(tmp_path, cases=cases))
    state = {"now": 0, "peak": 0}

    class Slow(StubTarget):
        async def complete(self, body: dict[str, Any]) -> Any:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
            await asyncio.sleep(0.01)
            state["now"] -= 1
            return await super().complete(body)

    ticks: list[int] = []
    options = RunOptions(concurrency=3, on_progress=lambda: ticks.append(1))
    result = await SuiteRunner(suite, Slow(lambda b, n: last_user(b)), options=options).run()
    assert result.verdict == "pass" and state["peak"] == 3 and len(ticks) == 12


def target_with_fallback(model: str = "fake/error-503") -> LocalTarget:
    """A bundle whose model fails, with a working fallback (as the gateway would chain it)."""
    compiled = compile_bundle(BundleSpec.model_validate(fake_spec(model=model)))
    lite = compile_bundle(BundleSpec.model_validate(fake_spec("support-lite")))
    info = TargetInfo(compiled.name, compiled.digest, None, model, "bundle", "test")
    providers = ProviderClient(backoff_base_s=0.0, backoff_max_s=0.0)
    return LocalTarget(compiled, providers, info, [lite], prepare=prepare_chat)


async def test_a_case_answered_by_a_fallback_is_marked(tmp_path: Path) -> None:
    suite = load_suite(write_suite(tmp_path))
    result = await SuiteRunner(suite, target_with_fallback()).run()
    assert result.verdict == "pass"  # the fallback's answers pass, and say so
    assert {r.fallback_index for r in result.calls()} == {1}
    assert {r.model for r in result.calls()} == {"fake/echo"}
    assert result.totals()["fallbacks"] == 2
    assert result.as_dict()["cases"][0]["results"][0]["fallback_index"] == 1


async def test_a_suite_can_refuse_answers_by_a_fallback(tmp_path: Path) -> None:
    suite = load_suite(write_suite(tmp_path, allow_fallback=False))
    result = await SuiteRunner(suite, target_with_fallback()).run()
    assert result.verdict == "error"  # as if the chain had no fallback: provider errors
    assert result.errors() == 2
    (reason,) = result.cases[0].reasons()
    assert "answered by fallback 1 (fake/echo)" in reason and "allow_fallback: false" in reason
    # The bundle's own answers are untouched by the setting.
    own = await SuiteRunner(suite, target_with_fallback("fake/echo")).run()
    assert own.verdict == "pass" and own.totals()["fallbacks"] == 0
