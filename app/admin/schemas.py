"""Request bodies of the admin API (unknown fields refused)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AliasSet(_Body):
    bundle: str
    reason: str
    expected: str | None = None
    # Promote despite refusing gates; audited as an override with the reasons.
    override: bool = False


class AliasRollback(_Body):
    reason: str
    to: str | None = None


class TokenCreate(_Body):
    name: str
    role: str
    expires_at: datetime | None = None
    reason: str | None = None


class KeyCreate(_Body):
    environment: str
    name: str | None = None
    aliases: list[str] | None = None  # None: every alias of the environment
    rpm: int | None = Field(default=None, ge=1)
    allow_pinned: bool = False
    expires_at: datetime | None = None
    reason: str | None = None


class Revoke(_Body):
    reason: str | None = None
