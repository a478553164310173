"""Rollouts: the rollout resource, shadow pairs, the analysis lease, per-arm request tags.

``request_records`` gains ``rollout_id``, ``arm`` and ``rollout_step`` so the
analysis loop compares both arms of one step with one grouped query.

Revision ID: 0006_rollouts
Revises: 0002
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_rollouts"
down_revision = "0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "rollouts",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("environment", sa.String(63), nullable=False, index=True),
        sa.Column("alias", sa.String(63), nullable=False, index=True),
        sa.Column("active_key", sa.String(140), nullable=True, unique=True),
        sa.Column(
            "baseline_digest", sa.String(71), sa.ForeignKey("bundles.digest"), nullable=False
        ),
        sa.Column(
            "candidate_digest", sa.String(71), sa.ForeignKey("bundles.digest"), nullable=False
        ),
        sa.Column("plan", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("paused", sa.Boolean, nullable=False),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("step_started_at", TS, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("override", sa.Boolean, nullable=False),
        sa.Column("verdict", sa.Text, nullable=True),
        sa.Column("evaluated_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False, index=True),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("ended_at", TS, nullable=True),
        sa.Column("end_reason", sa.Text, nullable=True),
    )
    op.create_table(
        "shadow_pairs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("rollout_id", sa.String(40), nullable=False, index=True),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("primary_ok", sa.Boolean, nullable=False),
        sa.Column("candidate_ok", sa.Boolean, nullable=False),
        sa.Column("primary_error", sa.Text, nullable=True),
        sa.Column("candidate_error", sa.Text, nullable=True),
        sa.Column("primary_text", sa.Text, nullable=True),
        sa.Column("candidate_text", sa.Text, nullable=True),
        sa.Column("exact_match", sa.Boolean, nullable=False),
        sa.Column("similarity", sa.Float, nullable=True),
        sa.Column("json_equal", sa.Boolean, nullable=True),
        sa.Column("json_shape_equal", sa.Boolean, nullable=True),
        sa.Column("length_ratio", sa.Float, nullable=True),
        sa.Column("primary_latency_ms", sa.Float, nullable=False),
        sa.Column("candidate_latency_ms", sa.Float, nullable=False),
        sa.Column("latency_delta_ms", sa.Float, nullable=False),
        sa.Column("primary_tokens", sa.Integer, nullable=True),
        sa.Column("candidate_tokens", sa.Integer, nullable=True),
        sa.Column("token_delta", sa.Integer, nullable=True),
    )
    op.create_table(
        "rollout_leases",
        sa.Column("name", sa.String(63), primary_key=True),
        sa.Column("holder", sa.String(64), nullable=False),
        sa.Column("expires_at", TS, nullable=False),
    )
    with op.batch_alter_table("request_records") as batch:
        batch.add_column(sa.Column("rollout_id", sa.String(40), nullable=True))
        batch.add_column(sa.Column("arm", sa.String(16), nullable=True))
        batch.add_column(sa.Column("rollout_step", sa.Integer, nullable=True))
    op.create_index("ix_request_records_rollout_id", "request_records", ["rollout_id"])


def downgrade() -> None:
    op.drop_index("ix_request_records_rollout_id", table_name="request_records")
    with op.batch_alter_table("request_records") as batch:
        for column in ("rollout_step", "arm", "rollout_id"):
            batch.drop_column(column)
    op.drop_table("rollout_leases")
    op.drop_table("shadow_pairs")
    op.drop_table("rollouts")
