"""The outcome side's services, built once per process (``AppContext.outcomes``)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from app.outcomes.declarations import MetricCatalog
from app.outcomes.feedback import FeedbackService
from app.telemetry.records import RecordWriter


@dataclass(slots=True)
class Outcomes:
    metrics: MetricCatalog
    feedback: FeedbackService

    @classmethod
    def build(cls, engine: Engine, records: RecordWriter) -> Outcomes:
        return cls(metrics=MetricCatalog(engine), feedback=FeedbackService(engine, records))
