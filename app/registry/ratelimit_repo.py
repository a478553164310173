"""Shared per-key request counters on PostgreSQL (one row per key per minute bucket)."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, col, delete, select

from app.registry.governance_tables import RateCounterRow


class RateCounterRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def exchange(
        self, deltas: Mapping[tuple[str, int], int], wanted: set[tuple[str, int]]
    ) -> dict[tuple[str, int], int]:
        """Add this replica's ``deltas``; return the global counts of ``wanted`` buckets."""
        for (key_id, bucket), delta in sorted(deltas.items()):
            statement = insert(RateCounterRow).values(key_id=key_id, bucket=bucket, count=delta)
            self.session.execute(
                statement.on_conflict_do_update(
                    index_elements=["key_id", "bucket"],
                    set_={"count": col(RateCounterRow.count) + statement.excluded.count},
                )
            )
        if not wanted:
            return {}
        keys = {key_id for key_id, _ in wanted}
        buckets = {bucket for _, bucket in wanted}
        rows = self.session.exec(
            select(RateCounterRow).where(
                col(RateCounterRow.key_id).in_(keys), col(RateCounterRow.bucket).in_(buckets)
            )
        )
        return {(row.key_id, row.bucket): row.count for row in rows}

    def forget_before(self, bucket: int) -> None:
        self.session.exec(delete(RateCounterRow).where(col(RateCounterRow.bucket) < bucket))
