"""Every query on ``pending_changes``.

A pending change past its ``expires_at`` is *expired* without any write: the
state is derived at read time, so expiry needs no sweeper and changes nothing.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from app.registry.governance_tables import PendingChangeRow

STATES = ("pending", "expired", "applied", "rejected")


class ChangeRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, change_id: str) -> PendingChangeRow | None:
        return self.session.get(PendingChangeRow, change_id)

    def add(self, row: PendingChangeRow) -> PendingChangeRow:
        self.session.add(row)
        self.session.flush()
        return row

    def save(self, row: PendingChangeRow) -> None:
        self.session.add(row)
        self.session.flush()

    def find(
        self,
        *,
        now: datetime,
        state: str | None = None,
        environment: str | None = None,
        limit: int = 100,
    ) -> list[PendingChangeRow]:
        query = select(PendingChangeRow)
        if state == "pending":
            query = query.where(
                PendingChangeRow.status == "pending", col(PendingChangeRow.expires_at) > now
            )
        elif state == "expired":
            query = query.where(
                PendingChangeRow.status == "pending", col(PendingChangeRow.expires_at) <= now
            )
        elif state:
            query = query.where(PendingChangeRow.status == state)
        if environment:
            query = query.where(PendingChangeRow.environment == environment)
        query = query.order_by(col(PendingChangeRow.requested_at).desc()).limit(limit)
        return list(self.session.exec(query))

    def applied_as(self, applied_ref: str) -> PendingChangeRow | None:
        """The approved change whose application produced ``applied_ref``."""
        return self.session.exec(
            select(PendingChangeRow).where(PendingChangeRow.applied_ref == applied_ref)
        ).first()
