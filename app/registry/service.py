"""Registry operations: each one transaction, audited, and followed by a snapshot refresh.

Handlers call these; repositories hold the queries; nothing here knows HTTP.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Engine
from sqlmodel import Session

from app.bundles.compiled import compile_bundle
from app.bundles.spec import NAME_PATTERN, BundleSpec, parse_ref
from app.errors import BadRequestError, BundleInvalid, ConflictError, NotFoundError
from app.registry.alias_repo import AliasRepository, StateRepository
from app.registry.audit import (
    AuditRepository,
    ChainReport,
    event_as_dict,
    require_reason,
    verify_chain,
)
from app.registry.bundle_repo import BundleRepository
from app.registry.db import read_session, write_session
from app.registry.gates import PromotionBlocked, PromotionGate, PromotionRequest, run_gates
from app.registry.pending import AliasApprovals, AliasChange
from app.registry.policy import EnvironmentPolicy, PolicyUpdate, default_policy
from app.registry.policy_repo import PolicyRepository
from app.registry.record_repo import RequestRecordRepository, record_as_dict
from app.registry.tables import (
    AliasHistoryRow,
    AliasRow,
    BundleRow,
    EnvironmentPolicyRow,
    as_utc,
    utcnow,
)

_NAME = re.compile(NAME_PATTERN)


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


def bundle_ref(row: BundleRow | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {"name": row.name, "version": row.version, "digest": row.digest}


class RegistryService:
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

    # -- bundles ---------------------------------------------------------------

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

    def list_bundles(self, name: str | None = None) -> list[BundleRow]:
        with read_session(self.engine) as session:
            return BundleRepository(session).find(name)

    def get_bundle(self, ref: str) -> BundleRow:
        with read_session(self.engine) as session:
            return self._resolve(session, ref)

    @staticmethod
    def spec_of(row: BundleRow) -> dict[str, Any]:
        spec: dict[str, Any] = orjson.loads(row.spec)
        return spec

    def _resolve(self, session: Session, ref: str) -> BundleRow:
        try:
            name, selector = parse_ref(ref)
        except ValueError as exc:
            raise BadRequestError(str(exc), param="bundle") from exc
        bundles = BundleRepository(session)
        row = (
            bundles.by_version(name, selector)
            if isinstance(selector, int)
            else bundles.by_digest(selector)
        )
        if row is None or row.name != name:
            raise NotFoundError(f"bundle {ref} is not registered", param="bundle")
        return row

    # -- aliases ---------------------------------------------------------------

    def check_target(self, environment: str, alias: str) -> None:
        if environment not in self.environments:
            raise NotFoundError(
                f"unknown environment {environment!r} (known: {', '.join(self.environments)})",
                param="environment",
            )
        if not _NAME.match(alias):
            raise BadRequestError(f"alias {alias!r} must match {NAME_PATTERN}", param="alias")

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

    def policy(self, session: Session, environment: str) -> EnvironmentPolicy:
        row = PolicyRepository(session).get(environment)
        if row is None:
            return default_policy(environment, self.environments)
        return EnvironmentPolicy.model_validate_json(row.policy)

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

    def get_alias(self, environment: str, alias: str) -> dict[str, Any]:
        self.check_target(environment, alias)
        with read_session(self.engine) as session:
            row = AliasRepository(session).get(environment, alias)
            if row is None:
                raise NotFoundError(f"alias {alias!r} is not set in {environment}", param="alias")
            bundle = BundleRepository(session).by_digest(row.bundle_digest)
            return {
                "environment": environment,
                "alias": alias,
                "bundle": bundle_ref(bundle),
                "updated_at": as_utc(row.updated_at).isoformat(),
                "updated_by": row.updated_by,
            }

    def list_aliases(self, environment: str) -> list[dict[str, Any]]:
        self.check_target(environment, "x")
        with read_session(self.engine) as session:
            bundles = BundleRepository(session)
            return [
                {
                    "environment": row.environment,
                    "alias": row.name,
                    "bundle": bundle_ref(bundles.by_digest(row.bundle_digest)),
                    "updated_at": as_utc(row.updated_at).isoformat(),
                }
                for row in AliasRepository(session).find(environment)
            ]

    def history(self, environment: str, alias: str) -> list[dict[str, Any]]:
        self.check_target(environment, alias)
        with read_session(self.engine) as session:
            rows = AliasRepository(session).history(environment, alias)
            if not rows:
                raise NotFoundError(
                    f"alias {alias!r} has no history in {environment}", param="alias"
                )
            return [self._history_entry(session, row) for row in rows]

    def live_at(self, environment: str, alias: str, at: datetime) -> dict[str, Any]:
        self.check_target(environment, alias)
        with read_session(self.engine) as session:
            row = AliasRepository(session).live_at(environment, alias, as_utc(at))
            if row is None:
                raise NotFoundError(
                    f"nothing was live for {alias!r} in {environment} at {as_utc(at).isoformat()}",
                    param="at",
                )
            return {
                "environment": environment,
                "alias": alias,
                "at": as_utc(at).isoformat(),
                "live": self._history_entry(session, row),
            }

    @staticmethod
    def _history_entry(session: Session, row: AliasHistoryRow) -> dict[str, Any]:
        bundles = BundleRepository(session)
        return {
            "at": as_utc(row.at).isoformat(),
            "action": row.action,
            "from": bundle_ref(bundles.by_digest(row.from_digest)) if row.from_digest else None,
            "to": bundle_ref(bundles.by_digest(row.to_digest)),
            "actor": row.actor,
            "reason": row.reason,
        }

    # -- audit -----------------------------------------------------------------

    def verify_audit(self) -> ChainReport:
        with read_session(self.engine) as session:
            return verify_chain(AuditRepository(session).iter_all())

    def revision(self) -> int:
        with read_session(self.engine) as session:
            return StateRepository(session).revision()

    def audit_events(self, *, after: int, limit: int, **filters: Any) -> list[dict[str, Any]]:
        with read_session(self.engine) as session:
            rows = AuditRepository(session).find(after_seq=after, limit=limit, **filters)
            return [event_as_dict(row) for row in rows]

    def request_record(self, request_id: str) -> dict[str, Any]:
        with read_session(self.engine) as session:
            row = RequestRecordRepository(session).get(request_id)
            if row is None:
                raise NotFoundError(f"no request record {request_id!r}", param="request_id")
            return record_as_dict(row)

    # -- policies --------------------------------------------------------------

    def get_policy(self, environment: str) -> dict[str, Any]:
        self.check_target(environment, "x")
        with read_session(self.engine) as session:
            row = PolicyRepository(session).get(environment)
            return self._policy_view(environment, self.policy(session, environment), row)

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

    @staticmethod
    def _policy_view(
        environment: str, policy: EnvironmentPolicy, row: EnvironmentPolicyRow | None
    ) -> dict[str, Any]:
        return {
            "environment": environment,
            "policy": policy.model_dump(),
            "default": row is None,
            "updated_at": as_utc(row.updated_at).isoformat() if row else None,
            "updated_by": row.updated_by if row else None,
        }
