"""Batches: uploaded files, batches pinned to a bundle digest, one row per input line.

Revision ID: 0009_batches
Revises: 0002
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_batches"
down_revision = "0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "files",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("environment", sa.String(63), nullable=False, index=True),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("bytes", sa.Integer, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("content", sa.Text, nullable=True),
        sa.Column("endpoint", sa.String(64), nullable=True),
        sa.Column("model", sa.String(140), nullable=True),
        sa.Column("lines", sa.Integer, nullable=False),
        sa.Column("batch_id", sa.String(40), nullable=True),
    )
    op.create_table(
        "batches",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("environment", sa.String(63), nullable=False, index=True),
        sa.Column("alias", sa.String(140), nullable=False),
        sa.Column(
            "bundle_digest", sa.String(71), sa.ForeignKey("bundles.digest"), nullable=False
        ),
        sa.Column("bundle_name", sa.String(63), nullable=False),
        sa.Column("bundle_version", sa.Integer, nullable=False),
        sa.Column("endpoint", sa.String(64), nullable=False),
        sa.Column("completion_window", sa.String(8), nullable=False),
        sa.Column("input_file_id", sa.String(40), sa.ForeignKey("files.id"), nullable=False),
        sa.Column("output_file_id", sa.String(40), nullable=True),
        sa.Column("error_file_id", sa.String(40), nullable=True),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("labels", sa.Text, nullable=True),
        sa.Column("total", sa.Integer, nullable=False),
        sa.Column("completed", sa.Integer, nullable=False),
        sa.Column("failed", sa.Integer, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("in_progress_at", TS, nullable=True),
        sa.Column("finalizing_at", TS, nullable=True),
        sa.Column("completed_at", TS, nullable=True),
        sa.Column("failed_at", TS, nullable=True),
        sa.Column("expired_at", TS, nullable=True),
        sa.Column("cancelling_at", TS, nullable=True),
        sa.Column("cancelled_at", TS, nullable=True),
        sa.Column("lease_holder", sa.String(64), nullable=True),
        sa.Column("lease_expires_at", TS, nullable=True),
    )
    op.create_table(
        "batch_requests",
        sa.Column("batch_id", sa.String(40), sa.ForeignKey("batches.id"), primary_key=True),
        sa.Column("line", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("custom_id", sa.String(512), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=True),
        sa.Column("output", sa.Text, nullable=True),
        sa.Column("finished_at", TS, nullable=True),
        sa.UniqueConstraint("batch_id", "custom_id", name="uq_batch_requests_custom_id"),
    )
    op.create_index(
        "ix_batch_requests_status_line", "batch_requests", ["batch_id", "status", "line"]
    )


def downgrade() -> None:
    op.drop_index("ix_batch_requests_status_line", table_name="batch_requests")
    op.drop_table("batch_requests")
    op.drop_table("batches")
    op.drop_table("files")
