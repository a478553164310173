"""Rollout transitions: each one transaction, audited with its evidence, then a snapshot refresh.

Operators start, pause, resume, advance and abort; the analysis loop advances,
completes and rolls back. Every transition bumps the rollout's ``version`` and
names the version it was decided on (``expected``), so a decision taken twice,
or after an operator acted, changes nothing. Completion flips the alias to the
candidate through ``RegistryService.apply_alias_set`` (alias history, gates,
audit) in the same transaction that ends the rollout, so the baseline stays one
``alias rollback`` away. The approval a protected environment asks for is
given when the rollout starts (the admin routes require ``approver`` there).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from app.bundles.rollout_spec import (
    STATE_ABORTED,
    STATE_COMPLETED,
    STATE_ROLLED_BACK,
    STATE_RUNNING,
    RolloutPlan,
    RolloutStart,
    build_plan,
)
from app.errors import BadRequestError, ConflictError, NotFoundError
from app.registry.alias_repo import AliasRepository, StateRepository
from app.registry.audit import AuditRepository, require_reason
from app.registry.bundle_repo import BundleRepository
from app.registry.db import read_session, write_session
from app.registry.gates import PromotionBlocked, PromotionRequest, run_gates
from app.registry.pending import AliasChange
from app.registry.rollout_repo import RolloutRepository
from app.registry.tables import BundleRow, RolloutRow, as_utc, utcnow
from app.registry.writes import RegistryService, bundle_ref
from app.rollouts.views import report_view, rollout_view
from app.telemetry.metrics import Metrics

ENDED_WORDS = {
    STATE_COMPLETED: "completed",
    STATE_ROLLED_BACK: "rolled back",
    STATE_ABORTED: "aborted",
}


def _dump(verdict: dict[str, Any]) -> str:
    return orjson.dumps(verdict).decode()


def _verdict_of(row: RolloutRow) -> dict[str, Any] | None:
    """The latest verdict, recorded with an operator's transition as what they saw."""
    verdict: dict[str, Any] | None = orjson.loads(row.verdict) if row.verdict else None
    return verdict


def new_rollout_id() -> str:
    return "ro_" + uuid.uuid4().hex[:20]


def target(row: RolloutRow) -> str:
    return f"rollout/{row.environment}/{row.alias}"


def state_of(row: RolloutRow, plan: RolloutPlan | None = None) -> dict[str, Any]:
    plan = plan or RolloutPlan.model_validate_json(row.plan)
    step = plan.step(min(row.step, plan.last))
    return {
        "rollout": row.id,
        "state": row.state,
        "paused": row.paused,
        "step": row.step,
        "weight": step.weight,
    }


class RolloutService:
    def __init__(
        self,
        engine: Engine,
        registry: RegistryService,
        metrics: Metrics,
        on_change: Callable[[], object] | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.engine = engine
        self.registry = registry
        self.metrics = metrics
        self._on_change = on_change or (lambda: None)
        self.clock = clock

    # -- operator calls -----------------------------------------------------------

    def start(
        self, environment: str, alias: str, body: RolloutStart, *, actor: str
    ) -> dict[str, Any]:
        self.registry.check_target(environment, alias)
        reason = require_reason(body.reason)
        plan = build_plan(body)
        candidate = self.registry.get_bundle(body.candidate)  # 404 / 400 naming the ref
        now = self.clock()
        with write_session(self.engine) as session:
            baseline = self._baseline(session, environment, alias, candidate)
            running = RolloutRepository(session).running_for(environment, alias)
            if running is not None:
                raise ConflictError(
                    f"rollout {running.id} is already running on {environment}/{alias}; "
                    "abort it (or let it finish) before starting another",
                    param="alias",
                )
            overridden = self._gate(session, environment, alias, candidate, body.override)
            row = RolloutRow(
                id=new_rollout_id(),
                environment=environment,
                alias=alias,
                active_key=f"{environment}/{alias}",
                baseline_digest=baseline.digest,
                candidate_digest=candidate.digest,
                plan=plan.model_dump_json(),
                state=STATE_RUNNING,
                step=0,
                step_started_at=now,
                override=bool(overridden),
                created_at=now,
                created_by=actor,
                reason=reason,
                updated_at=now,
            )
            try:
                RolloutRepository(session).add(row)
            except IntegrityError as exc:
                raise ConflictError(
                    f"a rollout is already running on {environment}/{alias}", param="alias"
                ) from exc
            after = {
                **state_of(row, plan),
                "baseline": bundle_ref(baseline),
                "candidate": bundle_ref(candidate),
                "plan": plan.model_dump(),
                **({"overridden": overridden} if overridden else {}),
            }
            AuditRepository(session).append(
                actor=actor,
                action="rollout.start.override" if overridden else "rollout.start",
                target=target(row),
                reason=reason,
                after=after,
            )
            StateRepository(session).bump()
        self.metrics.rollout_decisions.labels("start").inc()
        self._on_change()
        return self.status(environment, alias)

    def _baseline(
        self, session: Session, environment: str, alias: str, candidate: BundleRow
    ) -> BundleRow:
        current = AliasRepository(session).get(environment, alias)
        if current is None:
            raise NotFoundError(
                f"alias {alias!r} is not set in {environment}: a rollout starts from the "
                "bundle an alias serves (set it first)",
                param="alias",
            )
        baseline = BundleRepository(session).by_digest(current.bundle_digest)
        assert baseline is not None  # the foreign key guarantees it
        if candidate.digest == baseline.digest:
            raise BadRequestError(
                f"the candidate {candidate.name}@{candidate.version} is the baseline: "
                f"{environment}/{alias} already serves it",
                param="candidate",
            )
        kinds = {RegistryService.spec_of(b).get("kind", "chat") for b in (baseline, candidate)}
        if kinds != {"chat"}:
            raise BadRequestError(
                "rollouts need chat bundles on both sides (baseline and candidate)",
                param="candidate",
            )
        return baseline

    def _gate(
        self, session: Session, environment: str, alias: str, candidate: BundleRow, override: bool
    ) -> list[str]:
        """Refuse a rollout the final flip would be refused for; reasons overridden."""
        policy = self.registry.policy(session, environment)
        if not policy.protected or not self.registry.gates:
            return []
        request = PromotionRequest(
            session, environment, alias, candidate, RegistryService.spec_of(candidate), policy
        )
        reasons = run_gates(self.registry.gates, request)
        if reasons and not override:
            raise PromotionBlocked(environment, alias, reasons)
        return reasons

    def status(self, environment: str, alias: str) -> dict[str, Any]:
        self.registry.check_target(environment, alias)
        with read_session(self.engine) as session:
            row = self._latest(session, environment, alias)
            return rollout_view(session, row, self.clock())

    def report(self, environment: str, alias: str, limit: int = 5) -> dict[str, Any]:
        self.registry.check_target(environment, alias)
        with read_session(self.engine) as session:
            row = self._latest(session, environment, alias)
            return report_view(session, row, limit)

    def pause(self, environment: str, alias: str, *, actor: str, reason: str | None) -> Any:
        return self._operate(environment, alias, "pause", actor, reason or "paused by an operator")

    def resume(self, environment: str, alias: str, *, actor: str, reason: str | None) -> Any:
        return self._operate(
            environment, alias, "resume", actor, reason or "resumed by an operator"
        )

    def abort(self, environment: str, alias: str, *, actor: str, reason: str | None) -> Any:
        return self._operate(environment, alias, "abort", actor, reason or "aborted by an operator")

    def advance(self, environment: str, alias: str, *, actor: str, reason: str | None) -> Any:
        reason = require_reason(reason or "advanced by an operator")
        with read_session(self.engine) as session:
            row = self._running(session, environment, alias)
            plan = RolloutPlan.model_validate_json(row.plan)
        seen = _verdict_of(row)  # what the operator overrode, for the audit
        if row.step >= plan.last:
            self.complete(row.id, row.version, actor=actor, reason=reason, evidence=seen)
        else:
            self.move(row.id, row.version, "advance", actor=actor, reason=reason, evidence=seen)
        return self.status(environment, alias)

    def _operate(self, environment: str, alias: str, action: str, actor: str, reason: str) -> Any:
        self.registry.check_target(environment, alias)
        with read_session(self.engine) as session:
            row = self._running(session, environment, alias)
        if action == "pause" and row.paused:
            raise ConflictError(f"rollout {row.id} is already paused", param="alias")
        if action == "resume" and not row.paused:
            raise ConflictError(f"rollout {row.id} is not paused", param="alias")
        evidence = _verdict_of(row)
        self.move(row.id, row.version, action, actor=actor, reason=reason, evidence=evidence)
        return self.status(environment, alias)

    def _latest(self, session: Session, environment: str, alias: str) -> RolloutRow:
        row = RolloutRepository(session).latest(environment, alias)
        if row is None:
            raise NotFoundError(f"no rollout on {environment}/{alias}", param="alias")
        return row

    def _running(self, session: Session, environment: str, alias: str) -> RolloutRow:
        row = self._latest(session, environment, alias)
        if row.state != STATE_RUNNING:
            when = as_utc(row.ended_at).isoformat() if row.ended_at else "earlier"
            raise ConflictError(
                f"rollout {row.id} of {environment}/{alias} was {ENDED_WORDS[row.state]} "
                f"at {when}; nothing is running (start a new rollout)",
                param="alias",
            )
        return row

    # -- transitions (operators and the analysis loop) ----------------------------

    def move(
        self,
        rollout_id: str,
        expected: int,
        action: str,
        *,
        actor: str,
        reason: str,
        evidence: dict[str, Any] | None,
        now: datetime | None = None,
    ) -> bool:
        """advance, pause, resume, rollback or abort; False when ``expected`` is stale."""
        with write_session(self.engine) as session:
            repo = RolloutRepository(session)
            row = repo.get(rollout_id)
            if row is None or row.version != expected or row.state != STATE_RUNNING:
                return False
            plan = RolloutPlan.model_validate_json(row.plan)
            before = state_of(row, plan)
            now = now or self.clock()
            if action == "advance":
                row.step, row.step_started_at, row.verdict = row.step + 1, now, None
            elif action in ("pause", "resume"):
                row.paused = action == "pause"
            else:
                ended = {"rollback": STATE_ROLLED_BACK, "abort": STATE_ABORTED}[action]
                row.state, row.active_key, row.ended_at, row.end_reason = ended, None, now, reason
            self._record(session, row, plan, action, actor, reason, before, evidence, now)
        self._on_change()
        return True

    def complete(
        self,
        rollout_id: str,
        expected: int,
        *,
        actor: str,
        reason: str,
        evidence: dict[str, Any] | None,
        now: datetime | None = None,
    ) -> bool:
        """Flip the alias to the candidate and mark the rollout completed, in one transaction.

        The flip is ``RegistryService.apply_alias_set`` (alias history, gates, audit): the
        approval a protected environment needs was given when the rollout started.
        """
        with write_session(self.engine) as session:
            row = RolloutRepository(session).get(rollout_id)
            if row is None or row.version != expected or row.state != STATE_RUNNING:
                return False
            current = AliasRepository(session).get(row.environment, row.alias)
            if current is None or current.bundle_digest != row.candidate_digest:
                candidate = BundleRepository(session).by_digest(row.candidate_digest)
                assert candidate is not None  # the foreign key guarantees it
                change = AliasChange(
                    environment=row.environment,
                    alias=row.alias,
                    bundle=candidate,
                    expected=row.baseline_digest,
                    override=row.override,
                    overridden=[],
                    actor=actor,
                    reason=f"rollout {row.id} completed: {reason}",
                )
                self.registry.apply_alias_set(session, change)
            plan = RolloutPlan.model_validate_json(row.plan)
            before, now = state_of(row, plan), now or self.clock()
            row.state, row.active_key, row.ended_at, row.end_reason = (
                STATE_COMPLETED,
                None,
                now,
                reason,
            )
            self._record(session, row, plan, "complete", actor, reason, before, evidence, now)
        self._on_change()
        return True

    def note_verdict(
        self, rollout_id: str, expected: int, verdict: dict[str, Any], *, now: datetime
    ) -> None:
        """Keep the latest verdict for ``status`` (not a transition: no audit, no bump)."""
        with write_session(self.engine, registry_lock=False) as session:
            repo = RolloutRepository(session)
            row = repo.get(rollout_id)
            if row is None or row.version != expected:
                return
            row.verdict, row.evaluated_at = _dump(verdict), now
            repo.save(row)

    def _record(
        self,
        session: Session,
        row: RolloutRow,
        plan: RolloutPlan,
        action: str,
        actor: str,
        reason: str,
        before: dict[str, Any],
        evidence: dict[str, Any] | None,
        now: datetime,
    ) -> None:
        row.version += 1
        row.updated_at = now
        if evidence is not None and action != "advance":  # a new step starts unjudged
            row.verdict = _dump(evidence)
            row.evaluated_at = now
        RolloutRepository(session).save(row)
        after = state_of(row, plan) | ({"evidence": evidence} if evidence is not None else {})
        AuditRepository(session).append(
            actor=actor,
            action=f"rollout.{action}",
            target=target(row),
            reason=reason,
            before=before,
            after=after,
        )
        StateRepository(session).bump()
        self.metrics.rollout_decisions.labels(action).inc()
