"""Environment policies: which environments are protected and what promotion into them needs.

Policies are registry state like aliases: set through the admin API, audited,
and read inside the same transaction as the alias flip they govern.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class AliasPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Eval suites (by name) that need a recorded passing run for the exact digest.
    required_suites: list[str] = Field(default_factory=list)
    # How fresh that passing run must be; None = any age.
    max_age_days: float | None = Field(default=None, gt=0)
    # Run missing suites on promotion instead of refusing straight away.
    run_on_promotion: bool = False


class EnvironmentPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    protected: bool
    require_approval: bool = False
    # Refuse promotion when the pinned model shuts down within this many days.
    block_within_days: int = Field(default=14, ge=0, le=3650)
    aliases: dict[str, AliasPolicy] = Field(default_factory=dict)

    def for_alias(self, alias: str) -> AliasPolicy:
        return self.aliases.get(alias, AliasPolicy())


def default_policy(environment: str, environments: list[str]) -> EnvironmentPolicy:
    """Every environment after the first on the promotion path is protected."""
    return EnvironmentPolicy(protected=environments.index(environment) > 0)


class PolicyUpdate(BaseModel):
    """``PUT /admin/environments/{env}/policy``: the fields sent are changed, others kept."""

    model_config = ConfigDict(extra="forbid")

    reason: str
    protected: bool | None = None
    require_approval: bool | None = None
    block_within_days: int | None = Field(default=None, ge=0, le=3650)
    # An alias mapped to null drops its policy.
    aliases: dict[str, AliasPolicy | None] | None = None

    def apply(self, policy: EnvironmentPolicy) -> EnvironmentPolicy:
        data: dict[str, Any] = policy.model_dump()
        for key in ("protected", "require_approval", "block_within_days"):
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        for alias, entry in (self.aliases or {}).items():
            if entry is None:
                data["aliases"].pop(alias, None)
            else:
                data["aliases"][alias] = entry.model_dump()
        return EnvironmentPolicy.model_validate(data)
