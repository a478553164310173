"""Pending changes: a change that needs a second principal is stored, then applied by one.

The mechanism is generic: a change has a ``kind`` (``alias.set``, and e.g.
``rollout.start`` once rollouts plug in), a JSON payload, the digest it would
put live and the evidence attached when it was requested. Applying it is the
job of the applier registered for its kind, called inside the approver's
transaction so the change, its effect and their audit events commit together::

    changes.register("rollout.start", lambda session, change, approver: Applied(...))
    view = changes.request(session, kind="rollout.start", environment="prod",
                           target="rollout/prod/support-chat", payload={...},
                           actor=principal.name, reason=reason, digest=digest)

Rules: the requester's identity never approves its own change; a decided or
expired change cannot be decided again; every refusal is audited.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NoReturn

import orjson
from sqlalchemy import Engine
from sqlmodel import Session

from app.errors import BadRequestError, ConflictError, NotFoundError, PermissionDeniedError
from app.governance.denials import Denial, DenialRecorder
from app.governance.principals import Principal, identity_of
from app.registry.alias_repo import StateRepository
from app.registry.audit import AuditRepository, require_reason
from app.registry.change_repo import STATES, ChangeRepository
from app.registry.db import read_session, write_session
from app.registry.evidence_repo import EvidenceRepository
from app.registry.governance_tables import PendingChangeRow
from app.registry.tables import as_utc, iso_utc, utcnow


@dataclass(frozen=True, slots=True)
class Applied:
    result: dict[str, Any]
    applied_ref: str | None = None  # e.g. "alias_history/42", for evidence queries


Applier = Callable[[Session, PendingChangeRow, Principal], Applied]


def change_state(row: PendingChangeRow, now: datetime) -> str:
    if row.status == "pending" and as_utc(row.expires_at) <= now:
        return "expired"
    return row.status


def change_view(row: PendingChangeRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind,
        "environment": row.environment,
        "target": row.target,
        "status": change_state(row, utcnow()),
        "payload": orjson.loads(row.payload),
        "digest": row.digest,
        "reason": row.reason,
        "requested_by": row.requested_by,
        "requested_at": iso_utc(row.requested_at),
        "expires_at": iso_utc(row.expires_at),
        "evidence": orjson.loads(row.evidence),
        "decided_by": row.decided_by,
        "decided_at": iso_utc(row.decided_at),
        "decision_reason": row.decision_reason,
        "result": orjson.loads(row.result) if row.result else None,
        "applied_ref": row.applied_ref,
    }


class ChangeService:
    def __init__(
        self,
        engine: Engine,
        *,
        ttl: timedelta,
        on_change: Callable[[], object],
        denials: DenialRecorder,
    ) -> None:
        self.engine = engine
        self.ttl = ttl
        self._on_change = on_change
        self.denials = denials
        self._appliers: dict[str, Applier] = {}

    def register(self, kind: str, applier: Applier) -> None:
        self._appliers[kind] = applier

    def request(
        self,
        session: Session,
        *,
        kind: str,
        environment: str,
        target: str,
        payload: dict[str, Any],
        actor: str,
        reason: str,
        digest: str | None = None,
        evidence: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Store a pending change inside the caller's transaction; its view."""
        now = utcnow()
        attached = {
            "eval_runs": EvidenceRepository(session).eval_runs(digest) if digest else [],
            **(evidence or {}),
        }
        row = PendingChangeRow(
            id="chg_" + secrets.token_hex(8),
            kind=kind,
            environment=environment,
            target=target,
            payload=orjson.dumps(payload).decode(),
            digest=digest,
            evidence=orjson.dumps(attached).decode(),
            reason=require_reason(reason),
            requested_by=actor,
            requester=identity_of(actor),
            requested_at=now,
            expires_at=now + self.ttl,
            status="pending",
        )
        event = AuditRepository(session).append(
            actor=actor,
            action="change.request",
            target=target,
            reason=row.reason,
            after={"change": row.id, "kind": kind, "payload": payload, "digest": digest},
        )
        row.request_seq = event.seq
        ChangeRepository(session).add(row)
        return change_view(row)

    def list(
        self, *, state: str | None = None, environment: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        if state is not None and state not in STATES:
            raise BadRequestError(f"state must be one of {', '.join(STATES)}", param="state")
        with read_session(self.engine) as session:
            rows = ChangeRepository(session).find(
                now=utcnow(), state=state, environment=environment, limit=limit
            )
            return [change_view(row) for row in rows]

    def get(self, change_id: str) -> dict[str, Any]:
        with read_session(self.engine) as session:
            return change_view(self._row(session, change_id))

    @staticmethod
    def _row(session: Session, change_id: str) -> PendingChangeRow:
        row = ChangeRepository(session).get(change_id)
        if row is None:
            raise NotFoundError(f"no change {change_id!r}", param="change")
        return row

    def _refuse(
        self, row: PendingChangeRow, principal: Principal, message: str, code: str
    ) -> NoReturn:
        """Nothing is written by the refused transaction; the refusal itself is audited."""
        self.denials.record(Denial(principal.name, "change.denied", row.target, message, 403, code))
        raise PermissionDeniedError(message, code=code, param="change")

    def _check_open(self, row: PendingChangeRow, principal: Principal, verb: str) -> None:
        state = change_state(row, utcnow())
        if state == "expired":
            self._refuse(
                row,
                principal,
                f"cannot {verb} change {row.id}: it expired at {iso_utc(row.expires_at)}; "
                "request it again",
                "change_expired",
            )
        if state != "pending":
            self._refuse(
                row,
                principal,
                f"cannot {verb} change {row.id}: it was {state} by {row.decided_by}",
                "change_not_pending",
            )

    def approve(
        self, change_id: str, principal: Principal, *, reason: str | None = None
    ) -> dict[str, Any]:
        with write_session(self.engine) as session:
            row = self._row(session, change_id)
            self._check_open(row, principal, "approve")
            if principal.identity == row.requester:
                self._refuse(
                    row,
                    principal,
                    f"{principal.name} requested change {row.id} and cannot approve it: "
                    "a different principal with the approver role must",
                    "self_approval",
                )
            if not principal.has("approver"):
                self._refuse(
                    row,
                    principal,
                    f"{principal.name} ({principal.role}) cannot approve: needs the approver role",
                    "role_required",
                )
            applier = self._appliers.get(row.kind)
            if applier is None:
                raise ConflictError(f"this gateway cannot apply {row.kind!r} changes")
            decision = AuditRepository(session).append(
                actor=principal.name,
                action="change.approve",
                target=row.target,
                reason=reason or f"approve {row.kind} requested by {row.requested_by}",
                after={"change": row.id, "kind": row.kind, "requested_by": row.requested_by},
            )
            applied = applier(session, row, principal)
            row.status, row.decided_by, row.decided_at = "applied", principal.name, utcnow()
            row.decision_reason, row.decision_seq = decision.reason, decision.seq
            row.result = orjson.dumps(applied.result).decode()
            row.applied_ref = applied.applied_ref
            ChangeRepository(session).save(row)
            StateRepository(session).bump()
            view = change_view(row)
        self._on_change()
        return view

    def reject(self, change_id: str, principal: Principal, *, reason: str) -> dict[str, Any]:
        """An approver turns a change down, or its requester withdraws it."""
        reason = require_reason(reason)
        with write_session(self.engine) as session:
            row = self._row(session, change_id)
            self._check_open(row, principal, "reject")
            if not (principal.has("approver") or principal.identity == row.requester):
                self._refuse(
                    row,
                    principal,
                    f"{principal.name} ({principal.role}) cannot reject change {row.id}: "
                    "needs the approver role (or to be its requester)",
                    "role_required",
                )
            decision = AuditRepository(session).append(
                actor=principal.name,
                action="change.reject",
                target=row.target,
                reason=reason,
                after={"change": row.id, "kind": row.kind, "requested_by": row.requested_by},
            )
            row.status, row.decided_by, row.decided_at = "rejected", principal.name, utcnow()
            row.decision_reason, row.decision_seq = reason, decision.seq
            ChangeRepository(session).save(row)
            return change_view(row)
