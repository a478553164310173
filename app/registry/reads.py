"""The registry's read side: lookups, views and checks shared by every operation.

``RegistryService`` adds the writes; routes and the CLI call both through it.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Engine
from sqlmodel import Session

from app.bundles.spec import NAME_PATTERN, parse_ref
from app.errors import BadRequestError, NotFoundError
from app.registry.alias_repo import AliasRepository, StateRepository
from app.registry.audit import AuditRepository, ChainReport, event_as_dict, verify_chain
from app.registry.bundle_repo import BundleRepository
from app.registry.db import read_session
from app.registry.policy import EnvironmentPolicy, default_policy
from app.registry.policy_repo import PolicyRepository
from app.registry.record_repo import RequestRecordRepository, record_as_dict
from app.registry.tables import AliasHistoryRow, BundleRow, EnvironmentPolicyRow, as_utc

_NAME = re.compile(NAME_PATTERN)


def bundle_ref(row: BundleRow | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {"name": row.name, "version": row.version, "digest": row.digest}


class RegistryReads:
    engine: Engine
    environments: list[str]

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

    def check_target(self, environment: str, alias: str) -> None:
        if environment not in self.environments:
            raise NotFoundError(
                f"unknown environment {environment!r} (known: {', '.join(self.environments)})",
                param="environment",
            )
        if not _NAME.match(alias):
            raise BadRequestError(f"alias {alias!r} must match {NAME_PATTERN}", param="alias")

    def policy(self, session: Session, environment: str) -> EnvironmentPolicy:
        row = PolicyRepository(session).get(environment)
        if row is None:
            return default_policy(environment, self.environments)
        return EnvironmentPolicy.model_validate_json(row.policy)

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

    def get_policy(self, environment: str) -> dict[str, Any]:
        self.check_target(environment, "x")
        with read_session(self.engine) as session:
            row = PolicyRepository(session).get(environment)
            return self._policy_view(environment, self.policy(session, environment), row)

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
