"""Request records: guardrail outcomes and retrieved sources.

``guardrail_blocked`` is a plain column so rollout analysis can compute a
guardrail-block rate per bundle digest with one query; ``guardrails`` and
``retrieved_sources`` hold JSON text; ``retrieval_error`` names a failed
retrieval (fail-open requests were still answered).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("request_records") as batch:
        batch.add_column(
            sa.Column("guardrail_blocked", sa.Boolean, nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("guardrails", sa.Text, nullable=True))
        batch.add_column(sa.Column("retrieved_sources", sa.Text, nullable=True))
        batch.add_column(sa.Column("retrieval_error", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("request_records") as batch:
        for column in ("retrieval_error", "retrieved_sources", "guardrails", "guardrail_blocked"):
            batch.drop_column(column)
