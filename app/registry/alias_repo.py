"""Every query on ``aliases``, ``alias_history`` and ``registry_state``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlmodel import Session, col, select, update

from app.registry.tables import AliasHistoryRow, AliasRow, RegistryStateRow

# The PostgreSQL channel that carries the new revision of every registry change.
REGISTRY_CHANNEL = "pinyard_registry"


class AliasRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, environment: str, name: str) -> AliasRow | None:
        return self.session.get(AliasRow, (environment, name))

    def find(self, environment: str | None = None) -> list[AliasRow]:
        query = select(AliasRow)
        if environment:
            query = query.where(AliasRow.environment == environment)
        return list(
            self.session.exec(query.order_by(col(AliasRow.environment), col(AliasRow.name)))
        )

    def upsert(self, row: AliasRow) -> None:
        self.session.merge(row)
        self.session.flush()

    def add_history(self, row: AliasHistoryRow) -> AliasHistoryRow:
        self.session.add(row)
        self.session.flush()
        return row

    def history(self, environment: str, name: str, limit: int = 200) -> list[AliasHistoryRow]:
        return list(
            self.session.exec(
                select(AliasHistoryRow)
                .where(AliasHistoryRow.environment == environment, AliasHistoryRow.alias == name)
                .order_by(col(AliasHistoryRow.id).desc())
                .limit(limit)
            )
        )

    def live_at(self, environment: str, name: str, at: datetime) -> AliasHistoryRow | None:
        return self.session.exec(
            select(AliasHistoryRow)
            .where(
                AliasHistoryRow.environment == environment,
                AliasHistoryRow.alias == name,
                col(AliasHistoryRow.at) <= at,
            )
            .order_by(col(AliasHistoryRow.id).desc())
            .limit(1)
        ).first()


class StateRepository:
    """The registry revision: bumped by every change, polled by every replica."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def revision(self) -> int:
        row = self.session.get(RegistryStateRow, 1)
        return row.revision if row else 0

    def bump(self) -> int:
        """Move the revision on; on PostgreSQL also tell every replica (sent on commit)."""
        revision: int = self.session.execute(
            update(RegistryStateRow)
            .where(col(RegistryStateRow.id) == 1)
            .values(revision=RegistryStateRow.revision + 1)
            .returning(col(RegistryStateRow.revision))
        ).scalar_one()
        if self.session.get_bind().dialect.name == "postgresql":
            # "<schema>:<revision>": deployments sharing a database in separate
            # schemas share the channel, and each listener keeps its own schema's.
            self.session.execute(
                text("SELECT pg_notify(:channel, current_schema() || ':' || :revision)"),
                {"channel": REGISTRY_CHANNEL, "revision": str(revision)},
            )
        return revision
