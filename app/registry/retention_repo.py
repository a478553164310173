"""The retention job's queries: request records only (the audit trail is never pruned)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, delete, select

from app.registry.tables import RequestRecordRow


class RetentionRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def prune_records(self, before: datetime, limit: int) -> int:
        """Delete up to ``limit`` request records created before ``before``; how many went."""
        ids = list(
            self.session.exec(
                select(RequestRecordRow.id)
                .where(col(RequestRecordRow.created_at) < before)
                .limit(limit)
            )
        )
        if not ids:
            return 0
        self.session.exec(delete(RequestRecordRow).where(col(RequestRecordRow.id).in_(ids)))
        return len(ids)
