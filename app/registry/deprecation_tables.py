"""The table behind once-per-threshold alerts; migration 0004_deprecations creates it.

One row per (environment, alias, model, threshold) that has been crossed: the
primary key is the claim, so restarts and replicas never announce a threshold
twice. ``delivered_at`` records the webhook's success, so a delivered event is
never sent again, while an undelivered one is retried with the same key.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Date, DateTime, Text
from sqlmodel import Field, SQLModel


class DeprecationAlertRow(SQLModel, table=True):
    __tablename__ = "deprecation_alerts"

    environment: str = Field(max_length=63, primary_key=True)
    alias: str = Field(max_length=63, primary_key=True)
    model: str = Field(max_length=255, primary_key=True)
    threshold_days: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    # "fired": announced; "superseded": crossed together with a lower threshold,
    # which was announced instead (one event, the most urgent).
    status: str = Field(max_length=16)
    days_left: int
    shutdown_date: date = Field(sa_column=Column(Date, nullable=False))
    fired_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    idempotency_key: str = Field(max_length=80, index=True)
    event: str = Field(sa_column=Column(Text, nullable=False))  # the JSON event as sent
    delivered_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    delivery_attempts: int = 0
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
