"""Point-in-time evidence: what served an alias at a moment, who set it, who approved it, why.

One query answers the auditor's question ("who approved the model that served
prod on March 15th, and on what evidence?"): the alias history gives the
bundle live then and who set it; the pending change whose application
produced that history entry gives the approval and the evidence attached; the
eval runs of the digest recorded by then, and the audit events involved (with
their chain hashes, to check against an exported trail), complete it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Engine

from app.errors import NotFoundError
from app.registry.alias_repo import AliasRepository
from app.registry.audit import event_as_dict
from app.registry.bundle_repo import BundleRepository
from app.registry.change_repo import ChangeRepository
from app.registry.db import read_session
from app.registry.evidence_repo import EvidenceRepository
from app.registry.tables import as_utc
from app.registry.writes import RegistryService, bundle_ref


class EvidenceService:
    def __init__(self, engine: Engine, registry: RegistryService) -> None:
        self.engine = engine
        self.registry = registry

    def alias_at(self, environment: str, alias: str, at: datetime) -> dict[str, Any]:
        self.registry.check_target(environment, alias)
        at = as_utc(at)
        with read_session(self.engine) as session:
            entry = AliasRepository(session).live_at(environment, alias, at)
            if entry is None:
                raise NotFoundError(
                    f"nothing was live for {alias!r} in {environment} at {at.isoformat()}",
                    param="at",
                )
            bundle = BundleRepository(session).by_digest(entry.to_digest)
            change = ChangeRepository(session).applied_as(f"alias_history/{entry.id}")
            evidence = EvidenceRepository(session)
            flip = evidence.flip_event(f"alias/{environment}/{alias}", as_utc(entry.at))
            seqs = [flip.seq] if flip else []
            if change is not None:
                seqs += [s for s in (change.request_seq, change.decision_seq) if s is not None]
            events = [event_as_dict(row) for row in evidence.events(sorted(set(seqs)))]
            runs = evidence.eval_runs(entry.to_digest, until=at)
        approval = None
        if change is not None:
            approval = {
                "change": change.id,
                "requested_by": change.requested_by,
                "requested_at": as_utc(change.requested_at).isoformat(),
                "reason": change.reason,
                "approved_by": change.decided_by,
                "approved_at": as_utc(change.decided_at).isoformat() if change.decided_at else None,
                "approval_reason": change.decision_reason,
                "evidence": orjson.loads(change.evidence),
            }
        return {
            "environment": environment,
            "alias": alias,
            "at": at.isoformat(),
            "live": {
                "bundle": bundle_ref(bundle),
                "model": bundle.model if bundle else None,
                "since": as_utc(entry.at).isoformat(),
                "action": entry.action,
                "set_by": entry.actor,
                "reason": entry.reason,
            },
            "approval": approval,
            "eval_runs": runs,
            "audit_events": events,
        }
