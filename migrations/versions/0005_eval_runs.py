"""Eval runs, recorded against the bundle digest they evaluated.

Revision ID: 0005_eval_runs
Revises: 0002
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_eval_runs"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "eval_runs",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("suite_name", sa.String(63), nullable=False, index=True),
        sa.Column("suite_digest", sa.String(71), nullable=False),
        sa.Column("bundle_name", sa.String(63), nullable=False, index=True),
        sa.Column("bundle_version", sa.Integer, nullable=False),
        sa.Column(
            "bundle_digest",
            sa.String(71),
            sa.ForeignKey("bundles.digest"),
            nullable=False,
            index=True,
        ),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("passed", sa.Boolean, nullable=False),
        sa.Column("pass_rate", sa.Float, nullable=True),
        sa.Column("failures", sa.Text, nullable=False),
        sa.Column("totals", sa.Text, nullable=False),
        sa.Column("cases", sa.Text, nullable=False),
        sa.Column("baseline", sa.Text, nullable=True),
        sa.Column("commit", sa.String(64), nullable=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
    )
    op.create_index(
        "ix_eval_runs_suite_digest_at", "eval_runs", ["suite_name", "bundle_digest", "created_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_eval_runs_suite_digest_at", table_name="eval_runs")
    op.drop_table("eval_runs")
