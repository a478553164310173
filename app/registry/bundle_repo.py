"""Every query on the ``bundles`` table."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.registry.tables import BundleRow


class BundleRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def by_digest(self, digest: str) -> BundleRow | None:
        return self.session.exec(select(BundleRow).where(BundleRow.digest == digest)).first()

    def by_version(self, name: str, version: int) -> BundleRow | None:
        return self.session.exec(
            select(BundleRow).where(BundleRow.name == name, BundleRow.version == version)
        ).first()

    def next_version(self, name: str) -> int:
        current = self.session.exec(
            select(func.max(BundleRow.version)).where(BundleRow.name == name)
        ).one()
        return (current or 0) + 1

    def add(self, row: BundleRow) -> BundleRow:
        self.session.add(row)
        self.session.flush()
        return row

    def find(self, name: str | None = None, limit: int = 500) -> list[BundleRow]:
        query = select(BundleRow)
        if name:
            query = query.where(BundleRow.name == name)
        query = query.order_by(col(BundleRow.name), col(BundleRow.version).desc()).limit(limit)
        return list(self.session.exec(query))

    def index(self) -> list[tuple[str, int, str, datetime]]:
        """(name, version, digest, created_at) of every bundle, for the snapshot."""
        rows = self.session.exec(
            select(BundleRow.name, BundleRow.version, BundleRow.digest, BundleRow.created_at)
        )
        return [(name, version, digest, at) for name, version, digest, at in rows]

    def specs(self, digests: list[str]) -> dict[str, str]:
        if not digests:
            return {}
        rows = self.session.exec(
            select(BundleRow.digest, BundleRow.spec).where(col(BundleRow.digest).in_(digests))
        )
        return dict(rows.all())
