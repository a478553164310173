"""Ending a batch: expired lines failed, output and error files made, the final status.

Runs in the caller's transaction. ``finish_if_done`` is for workers that each
hold a part of a batch (chunks on a distributed engine): it locks the batch
row, so of two parts ending at once exactly one sees no line pending and ends it.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel import Session

from app.batches.output_lines import expired_line
from app.registry.batch_repo import COMPLETED, FAILED, PAGE, BatchRepository, FinishedLine
from app.registry.batch_tables import BatchRow, FileRow
from app.registry.tables import as_utc, utcnow

CANCELLED, EXPIRED = "cancelled", "expired"
# Statuses a batch ends in.
ENDED = ("completed", "failed", "expired", "cancelled")


def fail_expired(
    batches: BatchRepository, batch_id: str, first: int = 0, last: int | None = None
) -> None:
    """Every pending line (between ``first`` and ``last``) fails with ``batch_expired``."""
    after = first - 1 if first else 0
    while page := batches.pending(batch_id, after, PAGE, last=last):
        now = utcnow()
        batches.finish(
            batch_id,
            [FinishedLine(p.line, False, None, expired_line(p.custom_id), now) for p in page],
        )
        after = page[-1].line


def finalize(
    session: Session, batch_id: str, reason: str | None, new_file_id: Callable[[], str]
) -> BatchRow:
    """``reason``: None (every line ran), ``cancelled`` or ``expired``."""
    batches = BatchRepository(session)
    if reason == EXPIRED:
        fail_expired(batches, batch_id)
    current = batches.get(batch_id)
    assert current is not None
    now = utcnow()
    current.finalizing_at = now
    for kind, status in (("output", COMPLETED), ("error", FAILED)):
        count, size = batches.output_size(batch_id, status)
        if not count:
            continue
        made = FileRow(
            id=new_file_id(),
            environment=current.environment,
            purpose="batch_output",
            kind=kind,
            filename=f"{current.id}_{kind}.jsonl",
            bytes=size,
            created_at=now,
            created_by="pinyard-batch-worker",
            lines=count,
            batch_id=current.id,
        )
        session.add(made)
        if kind == "output":
            current.output_file_id = made.id
        else:
            current.error_file_id = made.id
    if reason == CANCELLED:
        current.status, current.cancelled_at = "cancelled", now
    elif reason == EXPIRED:
        current.status, current.expired_at = "expired", now
    else:
        current.status, current.completed_at = "completed", now
    current.lease_holder, current.lease_expires_at = None, None
    batches.save(current)
    return current


def finish_if_done(
    session: Session, batch_id: str, new_file_id: Callable[[], str]
) -> BatchRow | None:
    """End the batch if no line is pending any more; None if it is not done (or ended)."""
    batches = BatchRepository(session)
    row = batches.get(batch_id, lock=True)
    if row is None or row.status in ENDED or batches.has_pending(batch_id):
        return None
    if row.status == "cancelling":
        reason: str | None = CANCELLED
    else:
        reason = EXPIRED if utcnow() >= as_utc(row.expires_at) else None
    return finalize(session, batch_id, reason, new_file_id)
