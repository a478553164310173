"""Request records: what each answer cost (usage x the model's price), where known.

Revision ID: 0011_request_cost
Revises: 0010_feedback
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_request_cost"
down_revision = "0010_feedback"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("request_records") as batch:
        batch.add_column(sa.Column("cost_usd", sa.Float, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("request_records") as batch:
        batch.drop_column("cost_usd")
