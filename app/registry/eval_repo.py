"""The ``eval_runs`` table and every query on it.

A run is stored against the bundle digest it evaluated (a foreign key: only
registered bundles have recorded runs), with its suite's name and digest, the
verdict and the per-case results, so a promotion gate can ask "has this exact
digest passed this suite recently?" in one indexed query.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, Index, Text
from sqlmodel import Field, Session, SQLModel, col, select


class EvalRunRow(SQLModel, table=True):
    __tablename__ = "eval_runs"
    __table_args__ = (
        Index("ix_eval_runs_suite_digest_at", "suite_name", "bundle_digest", "created_at"),
    )

    id: str = Field(max_length=40, primary_key=True)
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    suite_name: str = Field(max_length=63, index=True)
    suite_digest: str = Field(max_length=71)
    bundle_name: str = Field(max_length=63, index=True)
    bundle_version: int
    bundle_digest: str = Field(max_length=71, foreign_key="bundles.digest", index=True)
    verdict: str = Field(max_length=16)  # pass | fail | error
    passed: bool
    pass_rate: float | None = None
    failures: str = Field(sa_column=Column(Text, nullable=False))  # JSON list of reasons
    totals: str = Field(sa_column=Column(Text, nullable=False))  # JSON: totals + scorer means
    cases: str = Field(sa_column=Column(Text, nullable=False))  # JSON list of case results
    baseline: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    commit: str | None = Field(default=None, max_length=64)
    source: str = Field(max_length=32)  # cli | promotion
    actor: str = Field(max_length=255)


class EvalRunRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, row: EvalRunRow) -> EvalRunRow:
        self.session.add(row)
        self.session.flush()
        return row

    def get(self, run_id: str) -> EvalRunRow | None:
        return self.session.get(EvalRunRow, run_id)

    def find(
        self,
        *,
        bundle_digest: str | None = None,
        bundle_name: str | None = None,
        suite: str | None = None,
        limit: int = 50,
    ) -> list[EvalRunRow]:
        query = select(EvalRunRow)
        if bundle_digest:
            query = query.where(EvalRunRow.bundle_digest == bundle_digest)
        if bundle_name:
            query = query.where(EvalRunRow.bundle_name == bundle_name)
        if suite:
            query = query.where(EvalRunRow.suite_name == suite)
        query = query.order_by(col(EvalRunRow.created_at).desc(), col(EvalRunRow.id)).limit(limit)
        return list(self.session.exec(query))

    def latest(
        self,
        suite: str,
        bundle_digest: str,
        *,
        passed: bool | None = None,
        since: datetime | None = None,
    ) -> EvalRunRow | None:
        """The newest run of ``suite`` on ``bundle_digest`` (only passing ones, if asked)."""
        query = select(EvalRunRow).where(
            EvalRunRow.suite_name == suite, EvalRunRow.bundle_digest == bundle_digest
        )
        if passed is not None:
            query = query.where(EvalRunRow.passed == passed)
        if since is not None:
            query = query.where(col(EvalRunRow.created_at) >= since)
        return self.session.exec(query.order_by(col(EvalRunRow.created_at).desc()).limit(1)).first()
