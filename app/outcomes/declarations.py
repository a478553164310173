"""Declared feedback metrics: what a metric's values mean, and the values it accepts.

A metric is declared once (``POST /admin/metrics``, ``pinyard metric create``)
and never changes afterwards: feedback already given would change meaning under
a new type or range. Declaring the same metric again is a no-op; declaring it
differently is a conflict.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import Engine

from app.errors import BadRequestError, ConflictError, NotFoundError
from app.registry.audit import AuditRepository
from app.registry.db import read_session, write_session
from app.registry.feedback_repo import FeedbackRepository
from app.registry.outcome_tables import FeedbackMetricRow
from app.registry.tables import iso_utc, utcnow

MetricType = Literal["boolean", "float", "integer", "comment"]
Direction = Literal["higher", "lower"]
METRIC_NAME = r"^[a-z][a-z0-9_.-]{0,62}$"
MAX_TEXT = 10_000  # characters of a comment


class MetricDeclaration(BaseModel):
    """The body of ``POST /admin/metrics``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=METRIC_NAME)
    type: MetricType
    # Which way is better; required for numeric metrics (rollout guards and drift use it).
    direction: Direction | None = None
    min: float | None = None
    max: float | None = None
    description: str | None = Field(default=None, max_length=1000)

    @model_validator(mode="after")
    def _consistent(self) -> MetricDeclaration:
        if self.type == "comment":
            if self.min is not None or self.max is not None:
                raise ValueError("a comment metric has no range (min, max)")
            self.direction = self.direction or "higher"
            return self
        if self.direction is None:
            raise ValueError(f"a {self.type} metric needs a direction: higher or lower")
        if self.type == "boolean" and (self.min is not None or self.max is not None):
            raise ValueError("a boolean metric has no range (min, max): its values are 0 and 1")
        for bound in (self.min, self.max):
            if bound is not None and not math.isfinite(bound):
                raise ValueError("min and max must be finite numbers")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is above max ({self.max})")
        return self


def metric_as_dict(row: FeedbackMetricRow) -> dict[str, Any]:
    return {
        "name": row.name,
        "type": row.type,
        "direction": row.direction,
        "min": row.min,
        "max": row.max,
        "description": row.description,
        "created_at": iso_utc(row.created_at),
        "created_by": row.created_by,
    }


@dataclass(frozen=True, slots=True)
class Value:
    """A checked feedback value: a number (boolean as 1/0) or, for comment metrics, text."""

    number: float | None
    text: str | None


def check_value(metric: FeedbackMetricRow, value: Any, param: str) -> Value:
    """``value`` as ``metric`` declares it, or a 400 naming ``param``."""
    kind = metric.type
    if kind == "comment":
        if not isinstance(value, str) or not value.strip():
            raise BadRequestError(
                f"metric {metric.name!r} is a comment: 'value' must be non-empty text",
                param=param,
                code="invalid_feedback_value",
            )
        if len(value) > MAX_TEXT:
            raise BadRequestError(
                f"a comment holds at most {MAX_TEXT} characters",
                param=param,
                code="invalid_feedback_value",
            )
        return Value(None, value)
    if kind == "boolean":
        if not isinstance(value, bool):
            raise BadRequestError(
                f"metric {metric.name!r} is boolean: 'value' must be true or false",
                param=param,
                code="invalid_feedback_value",
            )
        return Value(1.0 if value else 0.0, None)
    whole = isinstance(value, int) and not isinstance(value, bool)
    if kind == "integer" and not (whole or (isinstance(value, float) and value.is_integer())):
        raise BadRequestError(
            f"metric {metric.name!r} is an integer: 'value' must be a whole number",
            param=param,
            code="invalid_feedback_value",
        )
    if not (whole or isinstance(value, float)) or not math.isfinite(float(value)):
        raise BadRequestError(
            f"metric {metric.name!r} is a {kind}: 'value' must be a finite number",
            param=param,
            code="invalid_feedback_value",
        )
    number = float(value)
    low, high = metric.min, metric.max
    if (low is not None and number < low) or (high is not None and number > high):
        raise BadRequestError(
            f"value {value} is outside the range of metric {metric.name!r} "
            f"[{_bound(low, '-inf')}, {_bound(high, '+inf')}]",
            param=param,
            code="feedback_value_out_of_range",
        )
    return Value(number, None)


def _bound(value: float | None, unbounded: str) -> str:
    if value is None:
        return unbounded
    return str(int(value)) if value.is_integer() else str(value)


class MetricCatalog:
    """Declaring and reading metrics; each declaration is audited."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def declare(self, body: MetricDeclaration, *, actor: str) -> tuple[dict[str, Any], bool]:
        """The metric and whether it was created now (False: declared before, identically)."""
        with write_session(self.engine) as session:
            repo = FeedbackRepository(session)
            existing = repo.metric(body.name)
            if existing is not None:
                if _declared(existing) != body.model_dump(exclude_none=True):
                    raise ConflictError(
                        f"metric {body.name!r} is already declared differently "
                        f"({_summary(existing)}); a metric never changes, since its feedback "
                        "would change meaning: declare a new name",
                        param="name",
                        code="metric_exists",
                    )
                return metric_as_dict(existing), False
            row = FeedbackMetricRow(**body.model_dump(), created_at=utcnow(), created_by=actor)
            repo.add_metric(row)
            AuditRepository(session).append(
                actor=actor,
                action="metric.create",
                target=f"metric/{row.name}",
                reason=f"declare feedback metric {row.name} ({_summary(row)})",
                after=body.model_dump(exclude_none=True),
            )
        return metric_as_dict(row), True

    def list(self) -> list[dict[str, Any]]:
        with read_session(self.engine) as session:
            return [metric_as_dict(row) for row in FeedbackRepository(session).metrics()]

    def get(self, name: str) -> dict[str, Any]:
        with read_session(self.engine) as session:
            row = FeedbackRepository(session).metric(name)
        if row is None:
            raise NotFoundError(f"no metric {name!r} is declared", param="name")
        return metric_as_dict(row)


def _declared(row: FeedbackMetricRow) -> dict[str, Any]:
    fields = ("name", "type", "direction", "min", "max", "description")
    return {f: getattr(row, f) for f in fields if getattr(row, f) is not None}


def _summary(row: FeedbackMetricRow) -> str:
    text = f"{row.type}, {row.direction} is better"
    if row.min is not None or row.max is not None:
        text += f", range [{_bound(row.min, '-inf')}, {_bound(row.max, '+inf')}]"
    return text
