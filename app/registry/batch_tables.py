"""Batch tables: uploaded files, batches, and each batch's requests (one per input line).

A batch is pinned when it is created: ``bundle_digest`` is what its alias served
then, and every request runs on it. Output and error files have no stored
content: their lines live on ``batch_requests`` (written as each request
finishes) and are read back in line order. Migration ``0009_batches`` mirrors
these tables.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


def _ts(*, nullable: bool = False) -> Column[datetime]:
    return Column(DateTime(timezone=True), nullable=nullable)


class FileRow(SQLModel, table=True):
    """An uploaded batch input (``purpose`` batch) or a batch's output or error file."""

    __tablename__ = "files"

    id: str = Field(max_length=40, primary_key=True)
    environment: str = Field(max_length=63, index=True)
    purpose: str = Field(max_length=32)  # "batch" (input) or "batch_output"
    kind: str = Field(max_length=8)  # "input", "output" or "error"
    filename: str = Field(max_length=255)
    bytes: int = 0
    created_at: datetime = Field(sa_column=_ts())
    created_by: str = Field(max_length=255)
    # Input files: the text as uploaded, what its lines call, how many there are.
    content: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    endpoint: str | None = Field(default=None, max_length=64)
    model: str | None = Field(default=None, max_length=140)
    lines: int = 0
    # Output and error files: the batch whose requests hold their lines.
    batch_id: str | None = Field(default=None, max_length=40)


class BatchRow(SQLModel, table=True):
    __tablename__ = "batches"

    id: str = Field(max_length=40, primary_key=True)
    environment: str = Field(max_length=63, index=True)
    alias: str = Field(max_length=140)  # the rows' model: an alias, or a bundle reference
    bundle_digest: str = Field(max_length=71, foreign_key="bundles.digest")
    bundle_name: str = Field(max_length=63)
    bundle_version: int
    endpoint: str = Field(max_length=64)
    completion_window: str = Field(max_length=8)
    input_file_id: str = Field(max_length=40, foreign_key="files.id")
    output_file_id: str | None = Field(default=None, max_length=40)
    error_file_id: str | None = Field(default=None, max_length=40)
    # validating, in_progress, finalizing, completed, failed, expired, cancelling, cancelled
    status: str = Field(max_length=16, index=True)
    labels: str | None = Field(default=None, sa_column=Column(Text, nullable=True))  # metadata
    total: int = 0
    completed: int = 0
    failed: int = 0
    created_at: datetime = Field(sa_column=_ts())
    created_by: str = Field(max_length=255)
    expires_at: datetime = Field(sa_column=_ts())
    in_progress_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    finalizing_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    completed_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    failed_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    expired_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    cancelling_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    cancelled_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    # Which worker runs it, until when (renewed while it runs; free again after a crash).
    lease_holder: str | None = Field(default=None, max_length=64)
    lease_expires_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class BatchRequestRow(SQLModel, table=True):
    """One input line of a batch; ``output`` is its output (or error) line once it finished."""

    __tablename__ = "batch_requests"
    __table_args__ = (
        UniqueConstraint("batch_id", "custom_id", name="uq_batch_requests_custom_id"),
        # The worker reads a batch's pending lines in order; files read finished ones.
        Index("ix_batch_requests_status_line", "batch_id", "status", "line"),
    )

    batch_id: str = Field(max_length=40, primary_key=True, foreign_key="batches.id")
    line: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    custom_id: str = Field(max_length=512)
    body: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(max_length=16)  # pending, completed, failed
    request_id: str | None = Field(default=None, max_length=64)
    output: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    finished_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
