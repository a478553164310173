"""Registry writes: each one transaction, audited, and followed by a snapshot refresh.

Handlers call these; repositories hold the queries; nothing here knows HTTP. The
read side (lookups, views, policy reads) is ``app.registry.reads``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Engine
from sqlmodel import Session

from app.bundles.spec import BundleSpec
from app.errors import BundleInvalid, ConflictError, NotFoundError
from app.registry.alias_repo import AliasRepository, StateRepository
from app.registry.audit import (
    AuditRepository,
    require_reason,
)
from app.registry.bundle_repo import BundleRepository
from app.registry.compiled import compile_bundle
from app.registry.db import write_session
from app.registry.gates import PromotionBlocked, PromotionGate, PromotionRequest, run_gates
from app.registry.pending import AliasApprovals, AliasChange
from app.registry.policy import PolicyUpdate
from app.registry.policy_repo import PolicyRepository
from app.registry.reads import RegistryReads, bundle_ref
from app.registry.tables import (
    AliasHistoryRow,
    AliasRow,
    BundleRow,
    EnvironmentPolicyRow,
    utcnow,
)


@dataclass(frozen=True, slots=True)
class Registered:
    name: str
    version: int
    digest: str
    created: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "digest": self.digest,
            "created": self.created,
        }


class RegistryService(RegistryReads):
    def __init__(
        self,
        engine: Engine,
        environments: list[str],
        on_change: Callable[[], object] | None = None,
        gates: list[PromotionGate] | None = None,
        approvals: AliasApprovals | None = None,
    ) -> None:
        self.engine = engine
        self.environments = environments
        self._on_change = on_change or (lambda: None)
        self.gates: list[PromotionGate] = list(gates or [])
        # Governance: alias sets into environments that require approval wait for one.
        self.approvals = approvals

    def register_bundle(
        self,
        spec: BundleSpec,
        *,
        actor: str,
        reason: str | None = None,
        known_pointers: frozenset[str] = frozenset(),
        forced: str | None = None,
    ) -> Registered:
        """``forced`` names the refusal (e.g. a retired model) an operator overrode: audited."""
        # Refuses floating models (incl. catalog-known pointers), bad templates and schemas.
        compile_bundle(spec, known_pointers=known_pointers)
        digest = spec.digest
        with write_session(self.engine) as session:
            bundles = BundleRepository(session)
            existing = bundles.by_digest(digest)
            if existing is not None:
                return Registered(existing.name, existing.version, digest, created=False)
            self._check_fallbacks(session, spec)
            row = bundles.add(
                BundleRow(
                    name=spec.name,
                    version=bundles.next_version(spec.name),
                    digest=digest,
                    model=spec.model,
                    spec=spec.canonical_json().decode(),
                    created_at=utcnow(),
                    created_by=actor,
                )
            )
            after = {**(bundle_ref(row) or {}), "model": spec.model}
            AuditRepository(session).append(
                actor=actor,
                action="bundle.register.forced" if forced else "bundle.register",
                target=f"bundle/{row.name}@{row.version}",
                reason=reason or f"register {row.name} ({spec.model})",
                after={**after, "forced": forced} if forced else after,
            )
            StateRepository(session).bump()
        self._on_change()
        return Registered(row.name, row.version, digest, created=True)

    def _check_fallbacks(self, session: Session, spec: BundleSpec) -> None:
        for ref in spec.fallbacks:
            try:
                row = self._resolve(session, ref)
            except NotFoundError as exc:
                raise BundleInvalid(
                    f"fallback {ref} is not registered; push it first", param="fallbacks"
                ) from exc
            if orjson.loads(row.spec).get("kind", "chat") != spec.kind:
                raise BundleInvalid(
                    f"fallback {ref} is not a {spec.kind} bundle", param="fallbacks"
                )

    def set_alias(
        self,
        environment: str,
        alias: str,
        ref: str,
        *,
        actor: str,
        reason: str | None,
        expected: str | None = None,
        override: bool = False,
    ) -> dict[str, Any]:
        self.check_target(environment, alias)
        reason = require_reason(reason)
        with write_session(self.engine) as session:
            target = self._resolve(session, ref)
            overridden = self._gate(session, environment, alias, target, override)
            if self.approvals is not None:
                change = AliasChange(
                    environment, alias, target, expected, override, overridden, actor, reason
                )
                pending = self.approvals.divert(session, change)
                if pending is not None:
                    return pending  # stored; nothing flips until an approver applies it
            result = self._flip(
                session, environment, alias, target, "set", actor, reason, expected, overridden
            )
        self._on_change()
        return result

    def apply_alias_set(self, session: Session, change: AliasChange) -> dict[str, Any]:
        """Flip an approved change inside the approver's transaction; the gates run again."""
        overridden = self._gate(
            session, change.environment, change.alias, change.bundle, change.override
        )
        return self._flip(
            session,
            change.environment,
            change.alias,
            change.bundle,
            "set",
            change.actor,
            change.reason,
            change.expected,
            overridden,
        )

    def _gate(
        self, session: Session, environment: str, alias: str, target: BundleRow, override: bool
    ) -> list[str]:
        """Run the promotion gates of a protected environment; the reasons overridden."""
        policy = self.policy(session, environment)
        if not policy.protected or not self.gates:
            return []
        request = PromotionRequest(
            session, environment, alias, target, self.spec_of(target), policy
        )
        reasons = run_gates(self.gates, request)
        if reasons and not override:
            raise PromotionBlocked(environment, alias, reasons)
        return reasons

    def rollback(
        self, environment: str, alias: str, *, actor: str, reason: str | None, to: str | None = None
    ) -> dict[str, Any]:
        self.check_target(environment, alias)
        reason = require_reason(reason)
        with write_session(self.engine) as session:
            aliases = AliasRepository(session)
            current = aliases.get(environment, alias)
            if current is None:
                raise NotFoundError(f"alias {alias!r} is not set in {environment}", param="alias")
            if to is not None:
                target = self._resolve(session, to)
            else:
                history = aliases.history(environment, alias, limit=1)
                previous_digest = history[0].from_digest if history else None
                if previous_digest is None:
                    raise ConflictError(
                        f"{environment}/{alias} has no previous entry to roll back to"
                    )
                found = BundleRepository(session).by_digest(previous_digest)
                assert found is not None  # the foreign key guarantees it
                target = found
            result = self._flip(
                session,
                environment,
                alias,
                target,
                "rollback",
                actor,
                reason,
                current.bundle_digest,
            )
        self._on_change()
        return result

    def _flip(
        self,
        session: Session,
        environment: str,
        alias: str,
        target: BundleRow,
        action: str,
        actor: str,
        reason: str,
        expected: str | None,
        overridden: list[str] | None = None,
    ) -> dict[str, Any]:
        aliases, bundles = AliasRepository(session), BundleRepository(session)
        current = aliases.get(environment, alias)
        current_digest = current.bundle_digest if current else None
        if expected is not None and expected != (current_digest or "none"):
            raise ConflictError(
                f"{environment}/{alias} points at {current_digest or 'nothing'}, "
                f"not the expected {expected}; re-read it and retry",
                param="expected",
            )
        previous = bundles.by_digest(current_digest) if current_digest else None
        now = utcnow()
        aliases.upsert(
            AliasRow(
                environment=environment,
                name=alias,
                bundle_digest=target.digest,
                updated_at=now,
                updated_by=actor,
            )
        )
        aliases.add_history(
            AliasHistoryRow(
                environment=environment,
                alias=alias,
                action=action,
                from_digest=current_digest,
                to_digest=target.digest,
                actor=actor,
                reason=reason,
                at=now,
            )
        )
        after: dict[str, Any] = bundle_ref(target) or {}
        if overridden:
            after["overridden"] = overridden
        AuditRepository(session).append(
            actor=actor,
            action=f"alias.{action}.override" if overridden else f"alias.{action}",
            target=f"alias/{environment}/{alias}",
            reason=reason,
            before=bundle_ref(previous),
            after=after,
        )
        StateRepository(session).bump()
        result: dict[str, Any] = {
            "environment": environment,
            "alias": alias,
            "bundle": bundle_ref(target),
            "previous": bundle_ref(previous),
        }
        if overridden:
            result["overridden"] = overridden
        return result

    def set_policy(self, environment: str, update: PolicyUpdate, *, actor: str) -> dict[str, Any]:
        self.check_target(environment, "x")
        reason = require_reason(update.reason)
        with write_session(self.engine) as session:
            before = self.policy(session, environment)
            after = update.apply(before)
            row = EnvironmentPolicyRow(
                environment=environment,
                policy=after.model_dump_json(),
                updated_at=utcnow(),
                updated_by=actor,
            )
            PolicyRepository(session).upsert(row)
            AuditRepository(session).append(
                actor=actor,
                action="policy.set",
                target=f"policy/{environment}",
                reason=reason,
                before=before.model_dump(),
                after=after.model_dump(),
            )
            StateRepository(session).bump()
        self._on_change()
        return self._policy_view(environment, after, row)
