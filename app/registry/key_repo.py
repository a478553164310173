"""Every query on ``api_keys``, and the key records the in-memory snapshot serves from.

The data plane authenticates against ``KeySet`` (hash -> record) without
touching the database; revoked and expired keys stay in it so a refusal can
say why, and so that revoking every key never reopens the gateway.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

import orjson
from sqlmodel import Session, col, select

from app.registry.governance_tables import ApiKeyRow
from app.registry.tables import as_utc


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    id: str
    name: str
    digest: str  # sha256 of the key
    environment: str
    aliases: frozenset[str] | None  # None: every alias of the environment
    rpm: int | None
    allow_pinned: bool
    expires_at: datetime | None
    revoked: bool

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now


@dataclass(frozen=True, slots=True)
class KeySet:
    by_hash: Mapping[str, ApiKeyRecord] = field(default_factory=dict)

    @property
    def configured(self) -> bool:
        """Once any key was ever created, the data plane requires one."""
        return bool(self.by_hash)

    def get(self, digest: str) -> ApiKeyRecord | None:
        return self.by_hash.get(digest)


def key_aliases(row: ApiKeyRow) -> list[str] | None:
    return None if row.aliases is None else list(orjson.loads(row.aliases))


class KeyRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def by_name(self, name: str) -> ApiKeyRow | None:
        return self.session.exec(select(ApiKeyRow).where(ApiKeyRow.name == name)).first()

    def find(self, environment: str | None = None) -> list[ApiKeyRow]:
        query = select(ApiKeyRow)
        if environment:
            query = query.where(ApiKeyRow.environment == environment)
        return list(self.session.exec(query.order_by(col(ApiKeyRow.name))))

    def add(self, row: ApiKeyRow) -> ApiKeyRow:
        self.session.add(row)
        self.session.flush()
        return row

    def key_set(self) -> KeySet:
        records = {}
        for row in self.find():
            aliases = key_aliases(row)
            records[row.key_hash] = ApiKeyRecord(
                id=row.id,
                name=row.name,
                digest=row.key_hash,
                environment=row.environment,
                aliases=None if aliases is None else frozenset(aliases),
                rpm=row.rpm,
                allow_pinned=row.allow_pinned,
                expires_at=as_utc(row.expires_at) if row.expires_at else None,
                revoked=row.revoked_at is not None,
            )
        return KeySet(records)
