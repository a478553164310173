"""Request records: one index that serves the rollout analysis's queries in order.

The analysis loop reads, every few seconds, the newest latencies of one arm in
one step (``ORDER BY created_at DESC LIMIT 5000``) and the counts of one step.
With an index on ``rollout_id`` alone the database sorted every record of the
rollout on each tick, work that grew with the canary's age; this one hands
them over newest first. It replaces the ``rollout_id`` index (its prefix), so
writing a record updates no more indexes than before.

Revision ID: 0008_rollout_sample_index
Revises: 0006_rollouts
Create Date: 2026-11-22
"""

from alembic import op

revision = "0008_rollout_sample_index"
down_revision = "0006_rollouts"
branch_labels = None
depends_on = None

COLUMNS = ["rollout_id", "rollout_step", "arm", "created_at"]


def upgrade() -> None:
    op.create_index("ix_request_records_rollout_sample", "request_records", COLUMNS)
    op.drop_index("ix_request_records_rollout_id", table_name="request_records")


def downgrade() -> None:
    op.create_index("ix_request_records_rollout_id", "request_records", ["rollout_id"])
    op.drop_index("ix_request_records_rollout_sample", table_name="request_records")
