"""Every query on ``feedback_metrics`` and ``feedback``."""

from __future__ import annotations

from sqlmodel import Session, col, select

from app.registry.outcome_tables import FeedbackMetricRow, FeedbackRow


class FeedbackRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def metric(self, name: str) -> FeedbackMetricRow | None:
        return self.session.get(FeedbackMetricRow, name)

    def metrics(self, names: set[str] | None = None) -> list[FeedbackMetricRow]:
        query = select(FeedbackMetricRow).order_by(col(FeedbackMetricRow.name))
        if names is not None:
            query = query.where(col(FeedbackMetricRow.name).in_(sorted(names)))
        return list(self.session.exec(query))

    def add_metric(self, row: FeedbackMetricRow) -> None:
        self.session.add(row)
        self.session.flush()

    def add_feedback(self, rows: list[FeedbackRow]) -> None:
        self.session.add_all(rows)
        self.session.flush()

    def for_request(self, request_id: str) -> list[FeedbackRow]:
        query = (
            select(FeedbackRow)
            .where(FeedbackRow.request_id == request_id)
            .order_by(col(FeedbackRow.created_at), col(FeedbackRow.id))
        )
        return list(self.session.exec(query))
