"""Bearer credentials, once for every kind: create (shown once), list, revoke, verify.

A secret is 256 bits of randomness behind its kind's prefix. Only its sha256
is stored (a fast hash is enough: nobody can brute-force such an input) with a
short public prefix to recognise it in listings; comparisons are constant-time
all the same. Creating and revoking are audited with the kind's fields, never
the secret. What differs between admin tokens and client keys is data, in
``credential_kinds``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlmodel import Session

from app.errors import AuthenticationError, BadRequestError, ConflictError, NotFoundError
from app.governance.credential_kinds import ADMIN_TOKEN, NAME, CredentialKind
from app.governance.denials import ANONYMOUS
from app.governance.principals import Principal
from app.registry.alias_repo import StateRepository
from app.registry.audit import AuditRepository
from app.registry.credential_repo import CredentialRecord, CredentialRepository, token_by_hash
from app.registry.db import read_session, write_session
from app.registry.governance_tables import CredentialColumns
from app.registry.tables import as_utc, iso_utc, utcnow

_SHOWN = 6  # characters after the prefix kept to recognise a secret in listings

Record = TypeVar("Record", bound=CredentialRecord)


@dataclass(frozen=True, slots=True)
class NewSecret:
    secret: str  # returned to the caller once, never stored
    digest: str  # sha256 hex, stored
    prefix: str  # e.g. "pyd_key_Ab3xY9", stored and listed


def new_secret(prefix: str) -> NewSecret:
    secret = prefix + secrets.token_urlsafe(32)
    return NewSecret(secret, hash_secret(secret), secret[: len(prefix) + _SHOWN])


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def same_secret(a: str, b: str) -> bool:
    """Constant-time equality of two secrets (or of two digests)."""
    return hmac.compare_digest(a.encode(), b.encode())


def bearer(authorization: str) -> str | None:
    """The credential in an ``Authorization: Bearer <secret>`` header value, if any."""
    scheme, _, value = authorization.partition(" ")
    return (value.strip() or None) if scheme.lower() == "bearer" else None


class CredentialRefused(AuthenticationError):
    """A 401 that knows whose credential was presented (by name), for the audit trail."""

    def __init__(self, message: str, *, code: str, actor: str) -> None:
        super().__init__(message, code=code)
        self.actor = actor


def verify(kind: CredentialKind, presented: str, lookup: Callable[[str], Record | None]) -> Record:
    """The live credential behind ``presented``; ``CredentialRefused`` saying why otherwise."""
    digest = hash_secret(presented)
    record = lookup(digest)
    # The lookup is by hash of a 256-bit secret (nothing to learn from its timing);
    # the final comparison is constant-time all the same.
    if record is None or not same_secret(record.digest, digest):
        raise CredentialRefused(kind.invalid.message, code=kind.invalid.code, actor=ANONYMOUS)
    refusal = kind.revoked if record.revoked else kind.expired if record.expired(utcnow()) else None
    if refusal is not None:
        message = refusal.message.format(name=record.name, expires_at=iso_utc(record.expires_at))
        raise CredentialRefused(message, code=refusal.code, actor=kind.actor(record.name))
    return record


def credential_state(row: CredentialColumns, now: datetime) -> str:
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at is not None and as_utc(row.expires_at) <= now:
        return "expired"
    return "active"


def credential_view(kind: CredentialKind, row: CredentialColumns) -> dict[str, Any]:
    """What the API shows of a credential: never the secret nor its hash."""
    view: dict[str, Any] = {"id": row.id, "name": row.name}
    for attribute in kind.attributes:
        value = getattr(row, attribute.name)
        view[attribute.name] = attribute.load(value) if attribute.load else value
    return view | {
        "prefix": row.prefix,
        "state": credential_state(row, utcnow()),
        "created_at": iso_utc(row.created_at),
        "created_by": row.created_by,
        "expires_at": iso_utc(row.expires_at),
        "revoked_at": iso_utc(row.revoked_at),
        "revoked_by": row.revoked_by,
    }


def _future(expires_at: datetime | None) -> datetime | None:
    if expires_at is None:
        return None
    if as_utc(expires_at) <= utcnow():
        raise BadRequestError("expires_at must be in the future", param="expires_at")
    return as_utc(expires_at)


class CredentialService:
    def __init__(
        self, engine: Engine, environments: list[str], on_change: Callable[[], object]
    ) -> None:
        self.engine = engine
        self.environments = environments
        self._on_change = on_change  # after a change to a kind the snapshot serves

    def create(
        self,
        kind: CredentialKind,
        *,
        actor: str,
        name: str | None = None,
        expires_at: datetime | None = None,
        reason: str | None = None,
        **attributes: Any,
    ) -> dict[str, Any]:
        """The new credential's view with the secret under ``kind.noun``: its only showing."""
        fields = self._fields(kind, attributes)
        if name is None and kind.default_name is not None:
            name = kind.default_name(fields)
        if name is None or not NAME.match(name):
            raise BadRequestError(
                f"{kind.noun} name {name!r} must match {NAME.pattern}", param="name"
            )
        for attribute in kind.attributes:
            if attribute.check is not None:
                attribute.check(fields[attribute.name], self.environments)
        expires = _future(expires_at)
        secret = new_secret(kind.secret_prefix)
        columns: dict[str, Any] = {
            a.name: a.store(fields[a.name]) if a.store else fields[a.name] for a in kind.attributes
        }
        columns[kind.row.HASH_COLUMN] = secret.digest
        with write_session(self.engine) as session:
            repository = CredentialRepository(session, kind.row)
            if repository.by_name(name) is not None:
                raise ConflictError(f"a {kind.noun} named {name!r} exists already", param="name")
            row = repository.add(
                kind.row(
                    id=kind.id_prefix + secrets.token_hex(8),
                    name=name,
                    prefix=secret.prefix,
                    created_at=utcnow(),
                    created_by=actor,
                    expires_at=expires,
                    **columns,
                )
            )
            view = credential_view(kind, row)
            after = {field: view[field] for field in kind.created_audit}
            self._audit(session, kind, "create", view, actor, reason, after=after)
        self._after(kind)
        return {**view, kind.noun: secret.secret}

    def list(self, kind: CredentialKind, **where: str | None) -> list[dict[str, Any]]:
        unknown = set(where) - set(kind.list_filters)
        if unknown:
            raise ValueError(f"{kind.noun}s cannot be listed by {', '.join(sorted(unknown))}")
        with read_session(self.engine) as session:
            rows = CredentialRepository(session, kind.row).find(**where)
            return [credential_view(kind, row) for row in rows]

    def revoke(
        self, kind: CredentialKind, name: str, *, actor: str, reason: str | None = None
    ) -> dict[str, Any]:
        with write_session(self.engine) as session:
            repository = CredentialRepository(session, kind.row)
            row = repository.by_name(name)
            if row is None:
                raise NotFoundError(f"no {kind.noun} named {name!r}", param="name")
            if row.revoked_at is not None:
                raise ConflictError(f"{kind.noun} {name!r} was revoked already", param="name")
            row.revoked_at, row.revoked_by = utcnow(), actor
            repository.add(row)
            view = credential_view(kind, row)
            before = {field: view[field] for field in kind.revoked_audit}
            self._audit(session, kind, "revoke", view, actor, reason, before=before)
        self._after(kind)
        return view

    def principal(self, presented: str) -> Principal:
        """The admin principal behind a named token; ``CredentialRefused`` otherwise.

        The admin API is not the hot path: the token is looked up on every call, so
        a revocation takes effect on the next request, on every replica.
        """
        with read_session(self.engine) as session:
            record = verify(ADMIN_TOKEN, presented, lambda digest: token_by_hash(session, digest))
        return Principal(name=ADMIN_TOKEN.actor(record.name), role=record.role)

    @staticmethod
    def _fields(kind: CredentialKind, attributes: dict[str, Any]) -> dict[str, Any]:
        unknown = set(attributes) - {a.name for a in kind.attributes}
        if unknown:
            raise TypeError(f"a {kind.noun} has no {', '.join(sorted(unknown))}")
        return {a.name: attributes.get(a.name, a.default) for a in kind.attributes}

    @staticmethod
    def _audit(
        session: Session,
        kind: CredentialKind,
        verb: str,
        view: dict[str, Any],
        actor: str,
        reason: str | None,
        **change: dict[str, Any],
    ) -> None:
        """The change's audit event (the kind's fields, never the secret), in its transaction."""
        AuditRepository(session).append(
            actor=actor,
            action=f"{kind.noun}.{verb}",
            target=kind.target.format(**view),
            reason=reason or kind.reasons[verb].format(**view),
            **change,
        )
        if kind.in_snapshot:
            StateRepository(session).bump()

    def _after(self, kind: CredentialKind) -> None:
        if kind.in_snapshot:
            self._on_change()
