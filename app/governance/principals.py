"""Principals and roles: who is calling the admin API and what they may do.

Roles are ordered, each including the ones below it: ``viewer`` reads,
``operator`` changes bundles, aliases and rollouts in unprotected environments,
``approver`` changes protected environments and approves pending changes,
``admin`` manages tokens, keys and policies.
"""

from __future__ import annotations

from dataclasses import dataclass

ROLES = ("viewer", "operator", "approver", "admin")
BOOTSTRAP = "admin"


def role_rank(role: str) -> int:
    """Position of ``role`` in ``ROLES``; unknown roles rank below every real one."""
    return ROLES.index(role) if role in ROLES else -1


def identity_of(actor: str) -> str:
    """The principal behind an audit actor name, for the two-person rule.

    The bootstrap token is one principal whatever ``x-pinyard-actor`` claims
    ("admin:alice" and "admin:bob" are both "admin"); a named token is itself.
    """
    if actor == BOOTSTRAP or actor.startswith(BOOTSTRAP + ":"):
        return BOOTSTRAP
    return actor


@dataclass(frozen=True, slots=True)
class Principal:
    name: str  # what audit events record, e.g. "token:alice" or "admin:bob"
    role: str

    @property
    def identity(self) -> str:
        return identity_of(self.name)

    def has(self, role: str) -> bool:
        return role_rank(self.role) >= role_rank(role)
