"""Which bundle of the fallback chain answered: request records and shadow pairs.

``request_records.fallback_index`` is 0 when the bundle that was resolved
answered itself, ``k`` when its ``k``-th fallback did, NULL when no bundle
answered. Rollout analysis counts an answer by a fallback as a failure of the
arm's own bundle, so a candidate that only ever falls back cannot pass.
``shadow_pairs.primary_fallback`` marks a pair whose client-side answer came
from a fallback rather than the baseline itself.

Revision ID: 0009_fallback_index
Revises: 0008_rollout_sample_index
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_fallback_index"
down_revision = "0008_rollout_sample_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("request_records") as batch:
        batch.add_column(sa.Column("fallback_index", sa.Integer, nullable=True))
    with op.batch_alter_table("shadow_pairs") as batch:
        batch.add_column(
            sa.Column("primary_fallback", sa.Boolean, nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("shadow_pairs") as batch:
        batch.drop_column("primary_fallback")
    with op.batch_alter_table("request_records") as batch:
        batch.drop_column("fallback_index")
