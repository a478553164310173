"""The seam where a registry change can become a pending change instead of happening.

``RegistryService`` knows nothing about approvals: when it is given an
``AliasApprovals`` (governance provides one), every alias set first asks it
whether the environment's policy requires a second person. If so, the change
is stored as pending, inside the same transaction, and its view is returned
instead of the flip.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from sqlmodel import Session

from app.registry.tables import BundleRow


@dataclass(frozen=True, slots=True)
class AliasChange:
    environment: str
    alias: str
    bundle: BundleRow
    expected: str | None
    override: bool
    overridden: list[str]  # gate refusals the requester asked to override
    actor: str
    reason: str


class AliasApprovals(Protocol):
    def divert(self, session: Session, change: AliasChange) -> dict[str, Any] | None:
        """The pending change's view when ``change`` must wait for approval, else None."""
        ...
