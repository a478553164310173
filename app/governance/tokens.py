"""Admin tokens: named principals with a role, shown once, stored hashed, revocable.

The admin API is not the hot path, so a presented token is looked up in the
database on every call: a revocation takes effect on the next request, on
every replica.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from app.bundles.spec import NAME_PATTERN
from app.errors import AuthenticationError, BadRequestError, ConflictError, NotFoundError
from app.governance.principals import ROLES, Principal
from app.governance.secrets import TOKEN_PREFIX, hash_secret, new_id, new_secret, same_digest
from app.registry.audit import AuditRepository
from app.registry.db import read_session, write_session
from app.registry.governance_tables import ApiTokenRow
from app.registry.tables import as_utc, utcnow
from app.registry.token_repo import TokenRepository

_NAME = re.compile(NAME_PATTERN)


class TokenRefused(AuthenticationError):
    """A 401 that knows which token was presented (by name), for the audit trail."""

    def __init__(self, message: str, *, code: str, actor: str) -> None:
        super().__init__(message, code=code)
        self.actor = actor


def check_expiry(expires_at: datetime | None) -> datetime | None:
    if expires_at is None:
        return None
    if as_utc(expires_at) <= utcnow():
        raise BadRequestError("expires_at must be in the future", param="expires_at")
    return as_utc(expires_at)


def credential_state(row: ApiTokenRow | Any, now: datetime) -> str:
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at is not None and as_utc(row.expires_at) <= now:
        return "expired"
    return "active"


def _iso(value: datetime | None) -> str | None:
    return as_utc(value).isoformat() if value is not None else None


def token_view(row: ApiTokenRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "role": row.role,
        "prefix": row.prefix,
        "state": credential_state(row, utcnow()),
        "created_at": _iso(row.created_at),
        "created_by": row.created_by,
        "expires_at": _iso(row.expires_at),
        "revoked_at": _iso(row.revoked_at),
        "revoked_by": row.revoked_by,
    }


class TokenService:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(
        self,
        name: str,
        role: str,
        *,
        actor: str,
        expires_at: datetime | None = None,
        reason: str | None = None,
    ) -> dict[str, Any]:
        """The new token's view with the secret in ``token``: the only time it is shown."""
        if not _NAME.match(name):
            raise BadRequestError(f"token name {name!r} must match {NAME_PATTERN}", param="name")
        if role not in ROLES:
            raise BadRequestError(f"role must be one of {', '.join(ROLES)}", param="role")
        expires = check_expiry(expires_at)
        secret = new_secret(TOKEN_PREFIX)
        with write_session(self.engine) as session:
            tokens = TokenRepository(session)
            if tokens.by_name(name) is not None:
                raise ConflictError(f"a token named {name!r} exists already", param="name")
            row = tokens.add(
                ApiTokenRow(
                    id=new_id("tok_"),
                    name=name,
                    role=role,
                    token_hash=secret.digest,
                    prefix=secret.prefix,
                    created_at=utcnow(),
                    created_by=actor,
                    expires_at=expires,
                )
            )
            view = token_view(row)
            AuditRepository(session).append(
                actor=actor,
                action="token.create",
                target=f"token/{name}",
                reason=reason or f"create {role} token {name}",
                after={k: view[k] for k in ("id", "name", "role", "prefix", "expires_at")},
            )
        return {**view, "token": secret.secret}

    def list(self) -> list[dict[str, Any]]:
        with read_session(self.engine) as session:
            return [token_view(row) for row in TokenRepository(session).find()]

    def revoke(self, name: str, *, actor: str, reason: str | None = None) -> dict[str, Any]:
        with write_session(self.engine) as session:
            tokens = TokenRepository(session)
            row = tokens.by_name(name)
            if row is None:
                raise NotFoundError(f"no token named {name!r}", param="name")
            if row.revoked_at is not None:
                raise ConflictError(f"token {name!r} was revoked already", param="name")
            row.revoked_at, row.revoked_by = utcnow(), actor
            tokens.add(row)
            AuditRepository(session).append(
                actor=actor,
                action="token.revoke",
                target=f"token/{name}",
                reason=reason or f"revoke token {name}",
                before={"role": row.role, "prefix": row.prefix},
            )
            return token_view(row)

    def authenticate(self, presented: str) -> Principal:
        """The principal behind a ``pyd_adm_`` token; a 401 naming why otherwise."""
        digest = hash_secret(presented)
        with read_session(self.engine) as session:
            row = TokenRepository(session).by_hash(digest)
        if row is None or not same_digest(row.token_hash, digest):
            raise TokenRefused("invalid admin token", code="admin_token_invalid", actor="anonymous")
        actor = f"token:{row.name}"
        state = credential_state(row, utcnow())
        if state == "revoked":
            raise TokenRefused(f"token {row.name!r} was revoked", code="token_revoked", actor=actor)
        if state == "expired":
            raise TokenRefused(
                f"token {row.name!r} expired at {_iso(row.expires_at)}",
                code="token_expired",
                actor=actor,
            )
        return Principal(name=actor, role=row.role)
