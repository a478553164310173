"""The analysis loop: judge every running rollout's step, then hold, advance, complete or roll back.

One replica runs it at a time: each tick first takes (or renews) a lease row,
inside the registry's serialised write transaction, so it works the same on
SQLite (several ``--workers``) and PostgreSQL (several replicas); a replica
that dies simply stops renewing and another takes over when the lease expires.
Decisions name the rollout version they were computed on, so a repeated or
overtaken decision changes nothing. ``tick(now)`` is synchronous and takes
its time from an injectable clock: tests drive it step by step.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy.exc import SQLAlchemyError

from app.bundles.rollout_spec import STATE_RUNNING, RolloutPlan, Step
from app.errors import ConflictError, PinyardError
from app.registry.alias_repo import AliasRepository
from app.registry.db import read_session, write_session
from app.registry.gates import PromotionBlocked
from app.registry.rollout_repo import LeaseRepository, RolloutRepository
from app.registry.tables import RolloutRow, as_utc, utcnow
from app.rollouts.analysis import Verdict, analyze_canary, analyze_shadow
from app.rollouts.samples import canary_samples, shadow_sample
from app.rollouts.transitions import RolloutService

log = logging.getLogger("pinyard.rollouts")

ANALYST = "pinyard:rollout-analysis"
LEASE = "rollout-analysis"


@dataclass(frozen=True, slots=True)
class Decision:
    rollout_id: str
    step: int
    action: str  # hold, advance, complete, rollback, abort
    reason: str
    applied: bool = True


@dataclass(frozen=True, slots=True)
class _Judged:
    row: RolloutRow
    plan: RolloutPlan
    verdict: Verdict
    alias_digest: str | None


class AnalysisLoop:
    def __init__(
        self,
        service: RolloutService,
        *,
        interval_s: float = 2.0,
        lease_ttl_s: float = 15.0,
        clock: Callable[[], datetime] = utcnow,
        holder: str | None = None,
    ) -> None:
        self.service = service
        self.interval_s = interval_s
        self.lease_ttl_s = lease_ttl_s
        self.clock = clock
        self.holder = holder or uuid.uuid4().hex

    def tick(self, now: datetime | None = None) -> list[Decision]:
        """One pass over every running rollout; [] when another replica holds the lease."""
        now = now or self.clock()
        with write_session(self.service.engine) as session:
            if not LeaseRepository(session).acquire(LEASE, self.holder, now, self.lease_ttl_s):
                return []
            running = [row.id for row in RolloutRepository(session).running()]
        return [self.decide(rollout_id, now) for rollout_id in running]

    def release(self) -> None:
        with write_session(self.service.engine) as session:
            LeaseRepository(session).release(LEASE, self.holder)

    async def run(self) -> None:
        """Tick forever; a failing tick is logged and the next one tries again."""
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                for decision in await asyncio.to_thread(self.tick):
                    if decision.action != "hold":
                        log.info(
                            "rollout %s: %s (%s)",
                            decision.rollout_id,
                            decision.action,
                            decision.reason,
                        )
            except (SQLAlchemyError, PinyardError) as exc:
                log.warning("rollout analysis tick failed: %s", exc)

    def decide(self, rollout_id: str, now: datetime) -> Decision:
        judged = self._judge(rollout_id)
        if judged is None:
            return Decision(rollout_id, -1, "hold", "not running", applied=False)
        row, plan, verdict = judged.row, judged.plan, judged.verdict
        step = plan.step(row.step)
        evidence = {
            "step": row.step,
            "weight": step.weight,
            "evaluated_at": now.isoformat(),
            **verdict.as_dict(),
        }
        where = f"step {row.step + 1}/{len(plan.steps)} ({_step_name(step.weight)})"
        if judged.alias_digest == row.candidate_digest and row.step == plan.last:
            return self._complete(row, evidence, "finishing the flip to the candidate", now)
        if judged.alias_digest != row.baseline_digest:
            reason = f"{row.environment}/{row.alias} was moved off the baseline outside the rollout"
            return self._move(row, "abort", reason, evidence, now)
        elapsed = (now - as_utc(row.step_started_at)).total_seconds()
        needed = step.min_duration_s or 0
        action = next_move(verdict, elapsed, step, paused=row.paused, last=row.step == plan.last)
        if action == "rollback":
            reason = f"candidate regressed at {where}: {verdict.reason}"
            return self._move(row, "rollback", reason, evidence, now)
        if action in ("advance", "complete"):
            reason = f"{where} passed for {elapsed:.0f}s: {verdict.reason}"
            if action == "complete":
                return self._complete(row, evidence, reason, now)
            return self._move(row, "advance", reason, evidence, now)
        if verdict.outcome == "pass":
            wait = "paused" if row.paused else f"passing, {elapsed:.1f}s of {needed:g}s"
            evidence["reason"] = f"{verdict.reason}; {wait}"
        return self._hold(row, evidence, now)

    def _judge(self, rollout_id: str) -> _Judged | None:
        with read_session(self.service.engine) as session:
            row = RolloutRepository(session).get(rollout_id)
            if row is None or row.state != STATE_RUNNING:
                return None
            plan = RolloutPlan.model_validate_json(row.plan)
            step = plan.step(row.step)
            if step.shadow:
                sample = shadow_sample(session, row, row.step, plan.analysis.agree_similarity)
                verdict = analyze_shadow(sample, step, plan.analysis, steps=len(plan.steps))
            else:
                stable, canary = canary_samples(session, row, plan, row.step)
                verdict = analyze_canary(stable, canary, step, plan.analysis, steps=len(plan.steps))
            alias = AliasRepository(session).get(row.environment, row.alias)
            return _Judged(row, plan, verdict, alias.bundle_digest if alias else None)

    def _hold(self, row: RolloutRow, evidence: dict[str, object], now: datetime) -> Decision:
        self.service.note_verdict(row.id, row.version, evidence, now=now)
        return Decision(row.id, row.step, "hold", str(evidence["reason"]))

    def _move(
        self, row: RolloutRow, action: str, reason: str, evidence: dict[str, object], now: datetime
    ) -> Decision:
        applied = self.service.move(
            row.id, row.version, action, actor=ANALYST, reason=reason, evidence=evidence, now=now
        )
        return Decision(row.id, row.step, action, reason, applied)

    def _complete(
        self, row: RolloutRow, evidence: dict[str, object], reason: str, now: datetime
    ) -> Decision:
        try:
            applied = self.service.complete(
                row.id, row.version, actor=ANALYST, reason=reason, evidence=evidence, now=now
            )
        except PromotionBlocked as exc:
            evidence["reason"] = f"holding at 100%: {exc.message}"
            return self._hold(row, evidence, now)
        except ConflictError as exc:  # the alias moved under us: the next tick aborts
            return Decision(row.id, row.step, "hold", exc.message, applied=False)
        return Decision(row.id, row.step, "complete", reason, applied)


def next_move(
    verdict: Verdict, elapsed_s: float, step: Step, *, paused: bool, last: bool
) -> Literal["rollback", "advance", "complete", "hold"]:
    """What a verdict on a running step leads to (``bench/rollout_sim.py`` replays it).

    A failure rolls back at once, paused or not; a pass moves on only once the step
    has run its minimum duration, and never while paused.
    """
    if verdict.outcome == "fail":
        return "rollback"
    if verdict.outcome == "pass" and elapsed_s >= (step.min_duration_s or 0) and not paused:
        return "complete" if last else "advance"
    return "hold"


def _step_name(weight: float) -> str:
    return "shadow" if weight == 0 else f"canary {weight:g}%"
