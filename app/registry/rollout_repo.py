"""Every query on ``rollouts``, ``shadow_pairs``, ``rollout_leases`` and the per-arm
samples in ``request_records``.

A request counts for its arm unless the client went away (499). Answers by a
fallback are counted apart from guardrail blocks and errors; latencies are those
of requests the arm's own bundle answered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from app.registry.tables import (
    RequestRecordRow,
    RolloutLeaseRow,
    RolloutRow,
    ShadowPairRow,
    as_utc,
)

CLIENT_GONE = 499


@dataclass(frozen=True, slots=True)
class ArmCounts:
    requests: int = 0
    errors: int = 0
    blocked: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    fallbacks: int = 0  # answered by a fallback: the arm's own bundle failed


class RolloutRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, rollout_id: str) -> RolloutRow | None:
        return self.session.get(RolloutRow, rollout_id)

    def add(self, row: RolloutRow) -> RolloutRow:
        self.session.add(row)
        self.session.flush()
        return row

    def save(self, row: RolloutRow) -> None:
        self.session.add(row)
        self.session.flush()

    def running(self) -> list[RolloutRow]:
        query = select(RolloutRow).where(col(RolloutRow.active_key).is_not(None))
        return list(self.session.exec(query.order_by(col(RolloutRow.created_at))))

    def running_for(self, environment: str, alias: str) -> RolloutRow | None:
        return self.session.exec(
            select(RolloutRow).where(RolloutRow.active_key == f"{environment}/{alias}")
        ).first()

    def latest(self, environment: str, alias: str) -> RolloutRow | None:
        """The running rollout of an alias, else the one that ended last."""
        return (
            self.running_for(environment, alias)
            or self.session.exec(
                select(RolloutRow)
                .where(RolloutRow.environment == environment, RolloutRow.alias == alias)
                .order_by(col(RolloutRow.created_at).desc())
                .limit(1)
            ).first()
        )

    # -- per-arm samples from request records ----------------------------------

    def arm_counts(self, rollout_id: str, step: int | None = None) -> dict[str, ArmCounts]:
        """Counts per arm for one step (or the whole rollout when ``step`` is None).

        Each request counts once, as ``app.rollouts.runtime.arm_outcome`` names it: an
        answer from a fallback first, then a guardrail block, then an error status.
        """
        r = RequestRecordRow
        fallback = func.coalesce(r.fallback_index, 0) > 0
        blocked = col(r.guardrail_blocked).is_(True) & ~fallback
        error = (col(r.status) >= 400) & ~blocked & ~fallback
        query = sa_select(
            col(r.arm),
            func.count(),
            func.sum(case((error, 1), else_=0)),
            func.sum(case((blocked, 1), else_=0)),
            func.sum(func.coalesce(r.prompt_tokens, 0)),
            func.sum(func.coalesce(r.completion_tokens, 0)),
            func.sum(case((fallback, 1), else_=0)),
        ).where(col(r.rollout_id) == rollout_id, col(r.status) != CLIENT_GONE)
        if step is not None:
            query = query.where(col(r.rollout_step) == step)
        rows = self.session.execute(query.group_by(col(r.arm))).all()
        return {
            str(arm): ArmCounts(
                int(n), int(e or 0), int(b or 0), int(pt or 0), int(ct or 0), int(f or 0)
            )
            for arm, n, e, b, pt, ct, f in rows
            if arm is not None
        }

    def arm_latencies(
        self, rollout_id: str, step: int | None, arm: str, limit: int = 5000
    ) -> list[float]:
        """Latencies of requests the arm's own bundle answered, newest first, at most ``limit``."""
        r = RequestRecordRow
        query = select(r.latency_ms).where(
            r.rollout_id == rollout_id,
            r.arm == arm,
            col(r.status) < 400,
            col(r.guardrail_blocked).is_(False),
            col(r.latency_ms).is_not(None),
            func.coalesce(r.fallback_index, 0) == 0,
        )
        if step is not None:
            query = query.where(r.rollout_step == step)
        rows = self.session.exec(query.order_by(col(r.created_at).desc()).limit(limit))
        return [float(v) for v in rows if v is not None]


class ShadowPairRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add_many(self, rows: list[ShadowPairRow]) -> None:
        self.session.add_all(rows)
        self.session.flush()

    def find(
        self, rollout_id: str, step: int | None = None, limit: int = 10_000
    ) -> list[ShadowPairRow]:
        """Pairs of a rollout (one step, or all), newest first, at most ``limit``."""
        query = select(ShadowPairRow).where(ShadowPairRow.rollout_id == rollout_id)
        if step is not None:
            query = query.where(ShadowPairRow.step == step)
        query = query.order_by(col(ShadowPairRow.id).desc()).limit(limit)
        return list(self.session.exec(query))


class LeaseRepository:
    """A named lease: held by one holder until it expires or is renewed."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def acquire(self, name: str, holder: str, now: datetime, ttl_s: float) -> bool:
        """Take or renew the lease; the caller's write transaction serialises contenders."""
        row = self.session.get(RolloutLeaseRow, name)
        expires = now + timedelta(seconds=ttl_s)
        if row is None:
            self.session.add(RolloutLeaseRow(name=name, holder=holder, expires_at=expires))
        elif row.holder == holder or as_utc(row.expires_at) <= now:
            row.holder, row.expires_at = holder, expires
            self.session.add(row)
        else:
            return False
        self.session.flush()
        return True

    def release(self, name: str, holder: str) -> None:
        row = self.session.get(RolloutLeaseRow, name)
        if row is not None and row.holder == holder:
            self.session.delete(row)
            self.session.flush()
