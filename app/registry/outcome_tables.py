"""Tables of the outcome side: declared feedback metrics and the feedback itself.

Migration 0010_feedback creates them. A feedback row copies what it is about
from its request record (environment, alias, the version the request was
routed to, rollout arm and step, the request's time), so outcome queries and
rollout guards never join the records table, and feedback outlives the record's
retention.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, Index, Text
from sqlmodel import Field, SQLModel


class FeedbackMetricRow(SQLModel, table=True):
    """A declared metric: feedback names it, and its type and range say what values mean."""

    __tablename__ = "feedback_metrics"

    name: str = Field(max_length=63, primary_key=True)
    type: str = Field(max_length=16)  # boolean, float, integer, comment
    direction: str = Field(max_length=8)  # higher, lower (better)
    min: float | None = None
    max: float | None = None
    description: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    created_by: str = Field(max_length=255)


class FeedbackRow(SQLModel, table=True):
    """One value of one metric about one answered request."""

    __tablename__ = "feedback"
    # Rollout guards read one metric of one arm of one step.
    __table_args__ = (Index("ix_feedback_rollout", "rollout_id", "rollout_step", "arm", "metric"),)

    id: str = Field(max_length=40, primary_key=True)
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    request_id: str = Field(max_length=64, index=True)
    metric: str = Field(max_length=63)
    # boolean (1/0), integer and float metrics; NULL for comment metrics.
    value: float | None = None
    # The value of a comment metric, or the optional comment on any value.
    text: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    comment: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    actor: str = Field(max_length=255)  # the API key's actor name, or "local"
    # Copied from the request record.
    request_created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    environment: str = Field(max_length=63)
    alias: str | None = Field(default=None, max_length=140)
    bundle_digest: str = Field(max_length=71)
    rollout_id: str | None = Field(default=None, max_length=40)
    arm: str | None = Field(default=None, max_length=16)
    rollout_step: int | None = None
