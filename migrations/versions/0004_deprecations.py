"""Deprecation alerts: which (environment, alias, model, threshold) has been announced.

Revision ID: 0004_deprecations
Revises: 0002
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_deprecations"
down_revision = "0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "deprecation_alerts",
        sa.Column("environment", sa.String(63), primary_key=True),
        sa.Column("alias", sa.String(63), primary_key=True),
        sa.Column("model", sa.String(255), primary_key=True),
        sa.Column("threshold_days", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("days_left", sa.Integer, nullable=False),
        sa.Column("shutdown_date", sa.Date, nullable=False),
        sa.Column("fired_at", TS, nullable=False),
        sa.Column("idempotency_key", sa.String(80), nullable=False, index=True),
        sa.Column("event", sa.Text, nullable=False),
        sa.Column("delivered_at", TS, nullable=True),
        sa.Column("delivery_attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("deprecation_alerts")
