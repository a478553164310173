"""Every query on ``api_tokens``."""

from __future__ import annotations

from sqlmodel import Session, col, select

from app.registry.governance_tables import ApiTokenRow


class TokenRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def by_hash(self, digest: str) -> ApiTokenRow | None:
        return self.session.exec(
            select(ApiTokenRow).where(ApiTokenRow.token_hash == digest)
        ).first()

    def by_name(self, name: str) -> ApiTokenRow | None:
        return self.session.exec(select(ApiTokenRow).where(ApiTokenRow.name == name)).first()

    def find(self) -> list[ApiTokenRow]:
        return list(self.session.exec(select(ApiTokenRow).order_by(col(ApiTokenRow.name))))

    def add(self, row: ApiTokenRow) -> ApiTokenRow:
        self.session.add(row)
        self.session.flush()
        return row
