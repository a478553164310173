"""Governance of alias changes: who may flip where, and the ``alias.set`` pending change.

Roles by environment policy:

================================  ==================  ===================
policy                            ``alias set``       ``alias rollback``
================================  ==================  ===================
unprotected                       operator            operator
protected                         approver            approver
requires approval                 operator: pending   approver, to the previous entry only
================================  ==================  ===================

A pending ``alias.set`` remembers what the alias pointed at when it was
requested: approving applies it only if that is still so (409 otherwise), so
an approver never approves a different change from the one they saw.
"""

from __future__ import annotations

from typing import Any, NoReturn

import orjson
from sqlmodel import Session

from app.errors import ConflictError, PermissionDeniedError
from app.governance.changes import Applied, ChangeService
from app.governance.denials import Denial, DenialRecorder
from app.governance.principals import Principal
from app.registry.alias_repo import AliasRepository
from app.registry.bundle_repo import BundleRepository
from app.registry.governance_tables import PendingChangeRow
from app.registry.pending import AliasChange
from app.registry.writes import RegistryService, bundle_ref

ALIAS_SET = "alias.set"


def is_pending(answer: dict[str, Any]) -> bool:
    """Whether an alias-set answer is a pending change (202) rather than a flip (200)."""
    return answer.get("kind") == ALIAS_SET and answer.get("status") == "pending"


class AliasGovernance:
    """Plugged into ``RegistryService.approvals`` and ``ChangeService`` (kind ``alias.set``)."""

    def __init__(
        self, registry: RegistryService, changes: ChangeService, denials: DenialRecorder
    ) -> None:
        self.registry = registry
        self.changes = changes
        self.denials = denials

    def authorize(
        self,
        principal: Principal,
        environment: str,
        *,
        where: str,
        rollback: bool = False,
        to: str | None = None,
    ) -> None:
        """Refuse (403, audited) a principal whose role is too low for this environment."""
        policy = self.registry.get_policy(environment)["policy"]
        if rollback and policy["require_approval"] and to is not None:
            self._deny(
                principal,
                where,
                f"{environment} requires approval: a rollback there may only return to the "
                "previous entry; use `alias set` to request a specific bundle",
                "approval_required",
            )
        direct = rollback or not policy["require_approval"]
        needed = "approver" if policy["protected"] and direct else "operator"
        if not principal.has(needed):
            what = "roll back" if rollback else "change"
            self._deny(
                principal,
                where,
                f"{principal.name} has the {principal.role} role; to {what} aliases in "
                f"{environment} needs {needed} or above",
                "role_required",
            )

    def _deny(self, principal: Principal, where: str, message: str, code: str) -> NoReturn:
        self.denials.record(Denial(principal.name, "auth.denied", where, message, 403, code))
        raise PermissionDeniedError(message, code=code)

    def divert(self, session: Session, change: AliasChange) -> dict[str, Any] | None:
        if not self.registry.policy(session, change.environment).require_approval:
            return None
        current = AliasRepository(session).get(change.environment, change.alias)
        current_digest = current.bundle_digest if current else None
        if change.expected is not None and change.expected != (current_digest or "none"):
            raise ConflictError(
                f"{change.environment}/{change.alias} points at {current_digest or 'nothing'}, "
                f"not the expected {change.expected}; re-read it and retry",
                param="expected",
            )
        payload = {
            "environment": change.environment,
            "alias": change.alias,
            "bundle": bundle_ref(change.bundle),
            "from_digest": current_digest,
            "expected": change.expected,
            "override": change.override,
        }
        return self.changes.request(
            session,
            kind=ALIAS_SET,
            environment=change.environment,
            target=f"alias/{change.environment}/{change.alias}",
            payload=payload,
            actor=change.actor,
            reason=change.reason,
            digest=change.bundle.digest,
            evidence={"overridden": change.overridden} if change.overridden else None,
        )

    def apply(self, session: Session, row: PendingChangeRow, approver: Principal) -> Applied:
        payload = orjson.loads(row.payload)
        environment, alias = payload["environment"], payload["alias"]
        bundle = BundleRepository(session).by_digest(payload["bundle"]["digest"])
        assert bundle is not None  # bundles are never deleted
        expected = payload["expected"] or payload["from_digest"] or "none"
        result = self.registry.apply_alias_set(
            session,
            AliasChange(
                environment,
                alias,
                bundle,
                expected,
                payload["override"],
                [],
                row.requested_by,  # who set it; the approval is its own event
                row.reason,
            ),
        )
        latest = AliasRepository(session).history(environment, alias, limit=1)[0]
        return Applied({**result, "approved_by": approver.name}, f"alias_history/{latest.id}")
