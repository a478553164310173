"""Every query on ``environment_policies``."""

from __future__ import annotations

from sqlmodel import Session

from app.registry.tables import EnvironmentPolicyRow


class PolicyRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, environment: str) -> EnvironmentPolicyRow | None:
        return self.session.get(EnvironmentPolicyRow, environment)

    def upsert(self, row: EnvironmentPolicyRow) -> None:
        self.session.merge(row)
        self.session.flush()
