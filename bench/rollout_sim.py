"""``python -m bench.rollout_sim``: how often the rollout analysis rolls back, simulated.

Seeded Monte-Carlo rollouts through the real verdict code (``analyze_canary``,
``analyze_shadow``, ``next_move``, the plan from ``build_plan``), looked at every
``--interval`` seconds of simulated traffic as the analysis loop does:

- **A/A**: candidate and baseline behave the same (error, block and latency
  distributions, shadow disagreement). Every rollback is a false rollback; the
  target is a rate at or below the configured ``alpha``.
- **worse**: the candidate's error rate is ``--worse`` (absolute) above the
  baseline's. The share rolled back is the power; where and after how many
  candidate requests it happened says how early.

Traffic is Poisson at ``--rps``; each canary step sends its weight's share to
the candidate; the shadow step replays ``--shadow-rate`` of it. Prints a
markdown table (``--json`` for the numbers); the same seed gives the same table.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import orjson

from app.bundles.rollout_spec import AnalysisSettings, RolloutPlan, RolloutStart, build_plan
from app.rollouts.analysis import ArmSample, ShadowSample, analyze_canary, analyze_shadow
from app.rollouts.loop import next_move
from app.rollouts.samples import reference_step

LATENCY_KEPT = 5000  # the newest latencies the analysis reads per arm (RolloutRepository)


@dataclass(frozen=True, slots=True)
class Behaviour:
    """How one bundle answers: shares of errors and guardrail blocks, latency."""

    error_rate: float = 0.02
    block_rate: float = 0.01
    latency_median_ms: float = 400.0
    latency_sigma: float = 0.35  # of the log-normal


@dataclass(frozen=True, slots=True)
class Scenario:
    baseline: Behaviour
    candidate: Behaviour
    plan: RolloutPlan
    rps: float = 20.0
    interval_s: float = 2.0
    disagreement: float = 0.1  # share of shadow pairs that disagree, both sides answering
    max_looks_per_step: int = 20_000


@dataclass(slots=True)
class Arm:
    """One arm's running sample in one step."""

    requests: int = 0
    errors: int = 0
    blocked: int = 0
    latencies: np.ndarray = field(default_factory=lambda: np.empty(0))

    def add(self, rng: np.random.Generator, n: int, behaviour: Behaviour) -> None:
        errors, blocked, ok = rng.multinomial(
            n,
            [
                behaviour.error_rate,
                behaviour.block_rate,
                1 - behaviour.error_rate - behaviour.block_rate,
            ],
        )
        self.requests += n
        self.errors += int(errors)
        self.blocked += int(blocked)
        if ok:
            drawn = rng.lognormal(np.log(behaviour.latency_median_ms), behaviour.latency_sigma, ok)
            self.latencies = np.concatenate([self.latencies, drawn])[-LATENCY_KEPT:]

    def sample(self) -> ArmSample:
        return ArmSample(
            requests=self.requests,
            errors=self.errors,
            blocked=self.blocked,
            latencies_ms=tuple(self.latencies.tolist()),
        )


@dataclass(slots=True)
class Pairs:
    """The shadow step's pairs: the baseline as served, the candidate off-path."""

    primary: Arm = field(default_factory=Arm)
    candidate: Arm = field(default_factory=Arm)
    compared: int = 0
    disagreements: int = 0

    def add(self, rng: np.random.Generator, n: int, scenario: Scenario) -> None:
        before_p, before_c = self.primary.errors, self.candidate.errors
        self.primary.add(rng, n, replace(scenario.baseline, block_rate=0.0))
        self.candidate.add(rng, n, replace(scenario.candidate, block_rate=0.0))
        failed = (self.primary.errors - before_p) + (self.candidate.errors - before_c)
        both = max(0, n - failed)  # close enough: failures on both sides are rare
        self.compared += both
        self.disagreements += int(rng.binomial(both, scenario.disagreement))

    def sample(self) -> ShadowSample:
        return ShadowSample(
            pairs=self.primary.requests,
            primary=self.primary.sample(),
            candidate=self.candidate.sample(),
            compared=self.compared,
            disagreements=self.disagreements,
        )


@dataclass(frozen=True, slots=True)
class Ending:
    action: str  # complete, rollback, or stuck (a step never decided)
    step: int  # the step it ended at
    candidate_requests: int  # served by the candidate before the end (shadow calls apart)
    looks: int


def simulate(scenario: Scenario, rng: np.random.Generator) -> Ending:
    """One rollout from its first step to completion or rollback."""
    plan, settings = scenario.plan, scenario.plan.analysis
    stables: dict[int, Arm] = {}
    served = looks = 0
    per_look = scenario.rps * scenario.interval_s
    for index, step in enumerate(plan.steps):
        last = index == plan.last
        pairs, canary, stable = Pairs(), Arm(), Arm()
        stables[index] = stable
        ref = reference_step(plan, index)
        for look in range(1, scenario.max_looks_per_step + 1):
            arrived = int(rng.poisson(per_look))
            if step.shadow:
                pairs.add(rng, int(rng.binomial(arrived, plan.shadow.rate)), scenario)
                verdict = analyze_shadow(pairs.sample(), step, settings, steps=len(plan.steps))
            else:
                to_candidate = int(rng.binomial(arrived, step.weight / 100))
                canary.add(rng, to_candidate, scenario.candidate)
                stable.add(rng, arrived - to_candidate, scenario.baseline)
                served += to_candidate
                baseline = stables[ref].sample() if ref is not None else None
                verdict = analyze_canary(
                    baseline, canary.sample(), step, settings, steps=len(plan.steps)
                )
            looks += 1
            elapsed = look * scenario.interval_s
            action = next_move(verdict, elapsed, step, paused=False, last=last)
            if action == "rollback":
                return Ending("rollback", index, served, looks)
            if action == "complete":
                return Ending("complete", index, served, looks)
            if action == "advance":
                break
        else:
            return Ending("stuck", index, served, looks)
    raise AssertionError("the last step completes or rolls back")


def _one(job: tuple[Scenario, np.random.SeedSequence]) -> Ending:
    scenario, seed = job
    return simulate(scenario, np.random.default_rng(seed))


def run(scenario: Scenario, rollouts: int, seed: int, jobs: int = 1) -> dict[str, Any]:
    """``rollouts`` independent rollouts, summarised; each has its own stream of the seed,
    so the result does not depend on ``jobs`` (processes)."""
    from scipy import stats

    work = [(scenario, s) for s in np.random.SeedSequence(seed).spawn(rollouts)]
    if jobs > 1:
        with ProcessPoolExecutor(jobs) as pool:
            endings = list(pool.map(_one, work, chunksize=max(1, rollouts // (jobs * 8))))
    else:
        endings = [_one(job) for job in work]
    rolled = [e for e in endings if e.action == "rollback"]
    interval = stats.binomtest(len(rolled), rollouts).proportion_ci(0.95, method="exact")
    weights = [s.weight for s in scenario.plan.steps]
    by_step = {_step_label(w): sum(1 for e in rolled if e.step == i) for i, w in enumerate(weights)}
    exposure = [e.candidate_requests for e in rolled]
    return {
        "rollouts": rollouts,
        "rolled_back": len(rolled),
        "rate": len(rolled) / rollouts,
        "ci95": [round(interval.low, 4), round(interval.high, 4)],
        "completed": sum(1 for e in endings if e.action == "complete"),
        "stuck": sum(1 for e in endings if e.action == "stuck"),
        "rolled_back_at": by_step,
        "median_candidate_requests_before_rollback": float(np.median(exposure))
        if exposure
        else None,
        "mean_looks": round(float(np.mean([e.looks for e in endings])), 1),
    }


def _step_label(weight: float) -> str:
    return "shadow" if weight == 0 else f"{weight:g}%"


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.rollout_sim", description=__doc__)
    parser.add_argument("--rollouts", type=int, default=1000, help="rollouts per scenario")
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--alpha", type=float, default=0.05, help="the plan's alpha")
    parser.add_argument("--steps", default="1,5,25,50,100", help="canary steps (percent)")
    parser.add_argument("--shadow-rate", type=float, default=0.1, help="0: no shadow step")
    parser.add_argument("--min-requests", type=int, default=100, help="per arm, per step")
    parser.add_argument("--min-duration", type=float, default=300.0, help="seconds per step")
    parser.add_argument("--rps", type=float, default=20.0, help="requests per second")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between looks")
    parser.add_argument("--error-rate", type=float, default=0.02, help="the baseline's")
    parser.add_argument("--worse", type=float, default=0.05, help="candidate's extra errors")
    parser.add_argument("--scenarios", default="aa,worse", help="aa, worse or both")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes")
    parser.add_argument("--json", action="store_true", help="print JSON, not a table")
    return parser.parse_args(argv)


def scenarios(args: argparse.Namespace) -> dict[str, Scenario]:
    start = RolloutStart(
        candidate="sim@2",
        reason="simulation",
        steps=[float(s) for s in args.steps.split(",")],
        min_requests=args.min_requests,
        min_duration_s=args.min_duration,
        shadow={"rate": args.shadow_rate},
        analysis=AnalysisSettings(alpha=args.alpha),
    )
    plan = build_plan(start)
    baseline = Behaviour(error_rate=args.error_rate)
    worse = replace(baseline, error_rate=args.error_rate + args.worse)
    found = {
        "aa": Scenario(baseline, baseline, plan, args.rps, args.interval),
        "worse": Scenario(baseline, worse, plan, args.rps, args.interval),
    }
    wanted = args.scenarios.split(",")
    return {name: found[name] for name in wanted}


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    results: dict[str, Any] = {"settings": vars(args) | {"json": None}}
    for name, scenario in scenarios(args).items():
        started = time.perf_counter()
        results[name] = run(scenario, args.rollouts, args.seed, args.jobs)
        results[name]["seconds"] = round(time.perf_counter() - started, 1)
    if args.json:
        sys.stdout.write(orjson.dumps(results, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    print(table(results))
    return 0


def table(results: dict[str, Any]) -> str:
    lines = [
        "| scenario | rollouts | rolled back | rate (95% CI) | where | median candidate requests |",
        "|---|---|---|---|---|---|",
    ]
    for name in ("aa", "worse"):
        found = results.get(name)
        if found is None:
            continue
        where = ", ".join(f"{k} {v}" for k, v in found["rolled_back_at"].items() if v) or "-"
        low, high = found["ci95"]
        exposure = found["median_candidate_requests_before_rollback"]
        lines.append(
            f"| {name} | {found['rollouts']} | {found['rolled_back']} | "
            f"{found['rate']:.3f} ({low:.3f}-{high:.3f}) | {where} | "
            f"{'-' if exposure is None else f'{exposure:g}'} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
