"""Client API keys: each fixes its caller's environment and may narrow its aliases.

Keys are registry state: creating or revoking one bumps the registry revision,
so every replica's snapshot (which the data plane authenticates against) picks
it up as it picks up an alias flip.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Engine

from app.bundles.spec import NAME_PATTERN
from app.errors import BadRequestError, ConflictError, NotFoundError
from app.governance.secrets import KEY_PREFIX, new_id, new_secret
from app.governance.tokens import check_expiry, credential_state
from app.registry.alias_repo import StateRepository
from app.registry.audit import AuditRepository
from app.registry.db import read_session, write_session
from app.registry.governance_tables import ApiKeyRow
from app.registry.key_repo import KeyRepository, key_aliases
from app.registry.tables import as_utc, utcnow

_NAME = re.compile(NAME_PATTERN)


def _iso(value: datetime | None) -> str | None:
    return as_utc(value).isoformat() if value is not None else None


def key_view(row: ApiKeyRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "environment": row.environment,
        "aliases": key_aliases(row),
        "rpm": row.rpm,
        "allow_pinned": row.allow_pinned,
        "prefix": row.prefix,
        "state": credential_state(row, utcnow()),
        "created_at": _iso(row.created_at),
        "created_by": row.created_by,
        "expires_at": _iso(row.expires_at),
        "revoked_at": _iso(row.revoked_at),
        "revoked_by": row.revoked_by,
    }


class KeyService:
    def __init__(
        self, engine: Engine, environments: list[str], on_change: Callable[[], object]
    ) -> None:
        self.engine = engine
        self.environments = environments
        self._on_change = on_change

    def _check(self, environment: str, name: str, aliases: list[str] | None) -> None:
        if environment not in self.environments:
            raise BadRequestError(
                f"unknown environment {environment!r} (known: {', '.join(self.environments)})",
                param="environment",
            )
        if not _NAME.match(name):
            raise BadRequestError(f"key name {name!r} must match {NAME_PATTERN}", param="name")
        for alias in aliases or []:
            if not _NAME.match(alias):
                raise BadRequestError(f"alias {alias!r} must match {NAME_PATTERN}", param="aliases")
        if aliases is not None and not aliases:
            raise BadRequestError("aliases, when given, must name at least one", param="aliases")

    def create(
        self,
        environment: str,
        *,
        actor: str,
        name: str | None = None,
        aliases: list[str] | None = None,
        rpm: int | None = None,
        allow_pinned: bool = False,
        expires_at: datetime | None = None,
        reason: str | None = None,
    ) -> dict[str, Any]:
        """The new key's view with the secret in ``key``: the only time it is shown."""
        name = name or f"{environment}-{secrets.token_hex(3)}"
        self._check(environment, name, aliases)
        if rpm is not None and rpm < 1:
            raise BadRequestError("rpm must be at least 1", param="rpm")
        expires = check_expiry(expires_at)
        secret = new_secret(KEY_PREFIX)
        with write_session(self.engine) as session:
            keys = KeyRepository(session)
            if keys.by_name(name) is not None:
                raise ConflictError(f"a key named {name!r} exists already", param="name")
            row = keys.add(
                ApiKeyRow(
                    id=new_id("key_"),
                    name=name,
                    environment=environment,
                    aliases=None
                    if aliases is None
                    else orjson.dumps(sorted(set(aliases))).decode(),
                    rpm=rpm,
                    allow_pinned=allow_pinned,
                    key_hash=secret.digest,
                    prefix=secret.prefix,
                    created_at=utcnow(),
                    created_by=actor,
                    expires_at=expires,
                )
            )
            view = key_view(row)
            AuditRepository(session).append(
                actor=actor,
                action="key.create",
                target=f"key/{environment}/{name}",
                reason=reason or f"create a {environment} key {name}",
                after={k: v for k, v in view.items() if k not in ("state", "created_at")},
            )
            StateRepository(session).bump()
        self._on_change()
        return {**view, "key": secret.secret}

    def list(self, environment: str | None = None) -> list[dict[str, Any]]:
        with read_session(self.engine) as session:
            return [key_view(row) for row in KeyRepository(session).find(environment)]

    def revoke(self, name: str, *, actor: str, reason: str | None = None) -> dict[str, Any]:
        with write_session(self.engine) as session:
            keys = KeyRepository(session)
            row = keys.by_name(name)
            if row is None:
                raise NotFoundError(f"no key named {name!r}", param="name")
            if row.revoked_at is not None:
                raise ConflictError(f"key {name!r} was revoked already", param="name")
            row.revoked_at, row.revoked_by = utcnow(), actor
            keys.add(row)
            AuditRepository(session).append(
                actor=actor,
                action="key.revoke",
                target=f"key/{row.environment}/{name}",
                reason=reason or f"revoke key {name}",
                before={"prefix": row.prefix, "aliases": key_aliases(row), "rpm": row.rpm},
            )
            StateRepository(session).bump()
            view = key_view(row)
        self._on_change()
        return view
