"""Every query on ``api_tokens`` and ``api_keys``, and the records authentication reads.

Both tables answer the same questions (by name, by hash, a listing), so one
repository serves them, told which row type it works on. Authentication never
sees a row: it gets a ``CredentialRecord`` (an ``AdminTokenRecord`` looked up
per admin call, or an ``ApiKeyRecord`` from the snapshot's ``KeySet``, which the
data plane authenticates against without touching the database). Revoked and
expired keys stay in the set so a refusal can say why, and so that revoking
every key never reopens the gateway.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

import orjson
from sqlmodel import Session, col, select

from app.registry.governance_tables import ApiKeyRow, ApiTokenRow, CredentialColumns
from app.registry.tables import as_utc

Row = TypeVar("Row", bound=CredentialColumns)


@dataclass(frozen=True, slots=True)
class CredentialRecord:
    """What checking a presented secret needs, whichever kind of credential it is."""

    id: str
    name: str
    digest: str  # sha256 of the secret
    expires_at: datetime | None
    revoked: bool

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now


@dataclass(frozen=True, slots=True)
class AdminTokenRecord(CredentialRecord):
    role: str


@dataclass(frozen=True, slots=True)
class ApiKeyRecord(CredentialRecord):
    environment: str
    aliases: frozenset[str] | None  # None: every alias of the environment
    rpm: int | None
    allow_pinned: bool


@dataclass(frozen=True, slots=True)
class KeySet:
    by_hash: Mapping[str, ApiKeyRecord] = field(default_factory=dict)

    @property
    def configured(self) -> bool:
        """Once any key was ever created, the data plane requires one."""
        return bool(self.by_hash)

    def get(self, digest: str) -> ApiKeyRecord | None:
        return self.by_hash.get(digest)


def stored_aliases(aliases: list[str] | None) -> str | None:
    """An alias allow-list as the ``aliases`` column holds it (sorted JSON; null = all)."""
    return None if aliases is None else orjson.dumps(sorted(set(aliases))).decode()


def loaded_aliases(stored: str | None) -> list[str] | None:
    return None if stored is None else list(orjson.loads(stored))


def _common(row: CredentialColumns) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "digest": row.digest,
        "expires_at": as_utc(row.expires_at) if row.expires_at else None,
        "revoked": row.revoked_at is not None,
    }


def token_record(row: ApiTokenRow) -> AdminTokenRecord:
    return AdminTokenRecord(**_common(row), role=row.role)


def key_record(row: ApiKeyRow) -> ApiKeyRecord:
    aliases = loaded_aliases(row.aliases)
    return ApiKeyRecord(
        **_common(row),
        environment=row.environment,
        aliases=None if aliases is None else frozenset(aliases),
        rpm=row.rpm,
        allow_pinned=row.allow_pinned,
    )


class CredentialRepository(Generic[Row]):
    def __init__(self, session: Session, row_type: type[Row]) -> None:
        self.session = session
        self.row_type = row_type

    def by_name(self, name: str) -> Row | None:
        return self.session.exec(select(self.row_type).where(self.row_type.name == name)).first()

    def by_hash(self, digest: str) -> Row | None:
        hashed = getattr(self.row_type, self.row_type.HASH_COLUMN)
        query = select(self.row_type).where(hashed == digest)
        return self.session.exec(query).first()

    def find(self, **where: str | None) -> list[Row]:
        """Every row, by name, narrowed by the columns given (``None`` narrows nothing)."""
        query = select(self.row_type)
        for column, value in where.items():
            if value:
                query = query.where(getattr(self.row_type, column) == value)
        return list(self.session.exec(query.order_by(col(self.row_type.name))))

    def add(self, row: Row) -> Row:
        self.session.add(row)
        self.session.flush()
        return row


def token_by_hash(session: Session, digest: str) -> AdminTokenRecord | None:
    row = CredentialRepository(session, ApiTokenRow).by_hash(digest)
    return None if row is None else token_record(row)


def key_set(session: Session) -> KeySet:
    """Every client key by hash, for the snapshot."""
    rows = CredentialRepository(session, ApiKeyRow).find()
    return KeySet({row.key_hash: key_record(row) for row in rows})
