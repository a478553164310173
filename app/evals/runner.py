"""Run a suite against a target: every case times ``repeats``, scored, with bounded concurrency.

The same runner serves the CLI (local bundle or gateway over HTTP) and the
gateway's run-on-promotion. ``preflight`` finds bad input (variables the
bundle does not declare or require, judges that do not answer chat) before any
provider call; the run itself never raises for a case: failures and provider
errors end up in the results.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from app.errors import BadRequestError, SuiteInvalid
from app.evals.cache import ResponseCache, cache_key
from app.evals.results import CaseResult, RepeatResult, SuiteResult, compare
from app.evals.scorers.scorer import JudgeUnavailable, Observation, ScoreEnv
from app.evals.suite import Case, Suite
from app.evals.targets import CallFailed, Reply, Target, output_text


@dataclass(slots=True)
class RunOptions:
    concurrency: int = 4
    cache: ResponseCache | None = None
    # Called once per finished call (case x repeat), e.g. to advance a progress bar.
    on_progress: Callable[[], None] | None = None


def preflight(suite: Suite, target: Target, judges: Mapping[str, Target]) -> None:
    """Refuse, naming the problem, anything that would fail for the suite's own reasons."""
    compiled = target.compiled
    label = target.info.label
    if compiled.spec.kind != "chat":
        raise SuiteInvalid(f"{label} is an embedding bundle; eval suites run chat bundles")
    schema = compiled.spec.variables_schema
    declared = set(schema.get("properties", {})) if schema else set(compiled.template_variables)
    for case in suite.spec.cases:
        variables = suite.variables_for(case)
        undeclared = sorted(set(variables) - declared)
        if undeclared:
            raise SuiteInvalid(
                f"{suite.path}: case {case.id!r} sets variables that {label} does not declare: "
                f"{', '.join(undeclared)} (declared: {', '.join(sorted(declared)) or 'none'})"
            )
        try:
            compiled.check_variables(variables)
        except BadRequestError as exc:
            raise SuiteInvalid(f"{suite.path}: case {case.id!r}: {exc.message}") from exc
    for reference in sorted(suite.judges()):
        judge = judges.get(reference)
        if judge is None:
            raise SuiteInvalid(f"{suite.path}: judge {reference!r} was not resolved")
        if judge.compiled.spec.kind != "chat":
            raise SuiteInvalid(f"judge {reference!r} is an embedding bundle, not a chat model")


class SuiteRunner:
    def __init__(
        self,
        suite: Suite,
        target: Target,
        judges: Mapping[str, Target] | None = None,
        options: RunOptions | None = None,
    ) -> None:
        self.suite = suite
        self.target = target
        self.judges = dict(judges or {})
        self.options = options or RunOptions()
        self.env = ScoreEnv(ask_judge=self._ask_judge)

    @property
    def calls(self) -> int:
        return len(self.suite.spec.cases) * self.suite.spec.repeats

    async def run(self) -> SuiteResult:
        preflight(self.suite, self.target, self.judges)
        started = time.perf_counter()
        gate = asyncio.Semaphore(max(1, self.options.concurrency))
        repeats = self.suite.spec.repeats

        async def one(case: Case, repeat: int) -> RepeatResult:
            async with gate:
                result = await self._repeat(case, repeat)
            if self.options.on_progress is not None:
                self.options.on_progress()
            return result

        cases = self.suite.spec.cases
        flat = await asyncio.gather(*(one(case, r) for case in cases for r in range(repeats)))
        results = [
            CaseResult(
                case, list(flat[i * repeats : (i + 1) * repeats]), self.suite.spec.required_passes
            )
            for i, case in enumerate(cases)
        ]
        return SuiteResult(
            self.suite, self.target.info, results, duration_s=time.perf_counter() - started
        )

    async def _repeat(self, case: Case, repeat: int) -> RepeatResult:
        body = {"messages": case.wire_messages(), "variables": self.suite.variables_for(case)}
        try:
            reply, cached = await self._call(self.target, body, repeat)
        except CallFailed as exc:
            if exc.infrastructure:  # counts against the error budget, not as a failure
                return RepeatResult(repeat, "error", error=exc.message)
            return RepeatResult(repeat, "fail", error=f"the system answered {exc.message}")
        output = output_text(reply.response)
        result = RepeatResult(
            repeat,
            "pass",
            output=output,
            latency_ms=reply.latency_ms,
            cost_usd=reply.cost_usd,
            model=reply.model,
            cached=cached,
            fallback_index=reply.fallback_index,
        )
        if reply.fallback_index and not self.suite.spec.allow_fallback:
            result.status = "error"
            result.error = (
                f"answered by fallback {reply.fallback_index} ({reply.model}), not by "
                f"{self.target.info.label} itself; the suite says allow_fallback: false"
            )
            return result
        obs = Observation(case, output, reply, self.target.compiled.spec.output_schema)
        try:
            for scorer in self.suite.scorers_for(case):
                result.scores.append(await scorer.score(obs, self.env))
        except JudgeUnavailable as exc:
            result.status, result.error = "error", str(exc)
            return result
        if not all(score.passed for score in result.scores):
            result.status = "fail"
        return result

    async def _call(self, target: Target, body: dict[str, Any], repeat: int) -> tuple[Reply, bool]:
        """A reply from the cache, or from the target (then stored); failures are not stored."""
        cache = self.options.cache
        key = cache_key(target.info.digest, body, repeat)
        if cache is not None:
            hit = cache.get(key)
            if hit is not None:
                return hit, True
        reply = await target.complete(body)
        if cache is not None:
            cache.put(key, reply)
        return reply, False

    async def _ask_judge(self, reference: str, body: dict[str, Any]) -> Reply:
        judge = self.judges.get(reference)
        if judge is None:
            raise CallFailed(f"judge {reference!r} was not resolved", infrastructure=False)
        reply, _ = await self._call(judge, body, 0)
        return reply


async def run_with_baseline(
    suite: Suite,
    target: Target,
    baseline: Target | None,
    judges: Mapping[str, Target] | None = None,
    options: RunOptions | None = None,
) -> SuiteResult:
    """Run the candidate (and the baseline, when given) and compare them."""
    judges = judges or {}
    if baseline is not None:
        preflight(suite, baseline, judges)  # both are checked before either makes a call
    result = await SuiteRunner(suite, target, judges, options).run()
    if baseline is not None:
        previous = await SuiteRunner(suite, baseline, judges, options).run()
        result.comparison = compare(result, previous)
    return result
