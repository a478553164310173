"""Feedback: declared metrics, feedback rows, and the version a request was routed to.

``request_records.routed_digest`` names the bundle an alias (or reference)
resolved to when one of its fallbacks answered instead, so feedback and
outcomes count the request for the version it was routed to.

Revision ID: 0010_feedback
Revises: 0008_rollout_sample_index
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_feedback"
down_revision = "0008_rollout_sample_index"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "feedback_metrics",
        sa.Column("name", sa.String(63), primary_key=True),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("min", sa.Float, nullable=True),
        sa.Column("max", sa.Float, nullable=True),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
    )
    op.create_table(
        "feedback",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False, index=True),
        sa.Column("metric", sa.String(63), nullable=False),
        sa.Column("value", sa.Float, nullable=True),
        sa.Column("text", sa.Text, nullable=True),
        sa.Column("comment", sa.Text, nullable=True),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("request_created_at", TS, nullable=False),
        sa.Column("environment", sa.String(63), nullable=False),
        sa.Column("alias", sa.String(140), nullable=True),
        sa.Column("bundle_digest", sa.String(71), nullable=False),
        sa.Column("rollout_id", sa.String(40), nullable=True),
        sa.Column("arm", sa.String(16), nullable=True),
        sa.Column("rollout_step", sa.Integer, nullable=True),
    )
    op.create_index(
        "ix_feedback_rollout", "feedback", ["rollout_id", "rollout_step", "arm", "metric"]
    )
    with op.batch_alter_table("request_records") as batch:
        batch.add_column(sa.Column("routed_digest", sa.String(71), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("request_records") as batch:
        batch.drop_column("routed_digest")
    op.drop_index("ix_feedback_rollout", table_name="feedback")
    op.drop_table("feedback")
    op.drop_table("feedback_metrics")
