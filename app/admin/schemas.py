"""Request bodies of the admin API (unknown fields refused)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


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
