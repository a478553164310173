"""Promotion gates: checks an alias flip into a protected environment must pass.

Each gate looks at the target bundle and the environment's policy and returns
the reasons it refuses, if any. The registry runs every gate inside the flip's
transaction; a refusal is a 409 ``promotion_blocked`` naming every reason, and
an operator override (with a reason) is audited as an override.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from sqlmodel import Session

from app.errors import ConflictError
from app.registry.policy import EnvironmentPolicy
from app.registry.tables import BundleRow


@dataclass(frozen=True, slots=True)
class PromotionRequest:
    session: Session
    environment: str
    alias: str
    bundle: BundleRow
    spec: dict[str, Any]
    policy: EnvironmentPolicy


class PromotionGate(Protocol):
    name: str

    def check(self, request: PromotionRequest) -> list[str]:
        """Reasons to refuse; an empty list passes."""
        ...


class PromotionBlocked(ConflictError):
    code = "promotion_blocked"

    def __init__(self, environment: str, alias: str, reasons: list[str]) -> None:
        self.reasons = reasons
        super().__init__(
            f"promotion of {environment}/{alias} refused: "
            + "; ".join(reasons)
            + " (an operator may override with a reason)",
            param="bundle",
        )


def run_gates(gates: list[PromotionGate], request: PromotionRequest) -> list[str]:
    reasons: list[str] = []
    for gate in gates:
        reasons.extend(f"[{gate.name}] {reason}" for reason in gate.check(request))
    return reasons
