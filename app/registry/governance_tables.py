"""Governance tables: admin tokens, client API keys, pending changes, shared rate counters.

Secrets are never stored: a token or key row keeps the sha256 of the secret and
a short public prefix to recognise it by. Migration ``0007_governance`` mirrors
these tables.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from sqlalchemy import BigInteger, Column, DateTime, Text
from sqlmodel import Field, SQLModel


def _ts(*, nullable: bool = False, index: bool = False) -> Column[datetime]:
    return Column(DateTime(timezone=True), nullable=nullable, index=index)


class CredentialColumns(SQLModel):
    """What an admin token and a client key both store: a name, a hash, a life."""

    id: str = Field(max_length=32, primary_key=True)
    name: str = Field(max_length=63, unique=True)
    prefix: str = Field(max_length=24)
    created_at: datetime = Field(sa_type=DateTime(timezone=True), nullable=False)
    created_by: str = Field(max_length=255)
    expires_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    revoked_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    revoked_by: str | None = Field(default=None, max_length=255)

    HASH_COLUMN: ClassVar[str]  # where the sha256 of the secret is kept

    @property
    def digest(self) -> str:
        return str(getattr(self, self.HASH_COLUMN))


class ApiTokenRow(CredentialColumns, table=True):
    """An admin-API principal: a named, role-bearing bearer token."""

    __tablename__ = "api_tokens"
    HASH_COLUMN = "token_hash"

    role: str = Field(max_length=16)
    token_hash: str = Field(max_length=64, unique=True)


class ApiKeyRow(CredentialColumns, table=True):
    """A data-plane client key: fixes the caller's environment, optionally its aliases."""

    __tablename__ = "api_keys"
    HASH_COLUMN = "key_hash"

    environment: str = Field(max_length=63)
    # JSON list of alias names; null = every alias of the environment.
    aliases: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    rpm: int | None = None
    allow_pinned: bool = False
    key_hash: str = Field(max_length=64, unique=True)


class PendingChangeRow(SQLModel, table=True):
    """A change waiting for a second principal: what, why, by whom, on what evidence."""

    __tablename__ = "pending_changes"

    id: str = Field(max_length=32, primary_key=True)
    kind: str = Field(max_length=64)
    environment: str = Field(max_length=63, index=True)
    target: str = Field(max_length=255, index=True)
    payload: str = Field(sa_column=Column(Text, nullable=False))
    digest: str | None = Field(default=None, max_length=71)
    evidence: str = Field(sa_column=Column(Text, nullable=False))
    reason: str = Field(sa_column=Column(Text, nullable=False))
    requested_by: str = Field(max_length=255)
    requester: str = Field(max_length=255)  # the principal's identity, for the two-person rule
    requested_at: datetime = Field(sa_column=_ts(index=True))
    expires_at: datetime = Field(sa_column=_ts())
    status: str = Field(max_length=16, index=True)
    decided_by: str | None = Field(default=None, max_length=255)
    decided_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    decision_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    result: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # What applying it produced, e.g. "alias_history/42": links history to its approval.
    applied_ref: str | None = Field(default=None, max_length=255, index=True)
    request_seq: int | None = None
    decision_seq: int | None = None


class RateCounterRow(SQLModel, table=True):
    """Requests per key per one-minute bucket, summed across replicas (PostgreSQL mode)."""

    __tablename__ = "rate_limit_counters"

    key_id: str = Field(max_length=32, primary_key=True)
    bucket: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    count: int = 0
