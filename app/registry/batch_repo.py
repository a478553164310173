"""Every query on ``files``, ``batches`` and ``batch_requests``.

A request's line is finished at most once: the update that finishes it only
matches a ``pending`` line, and the batch's counts grow by what it matched, so a
line finished twice (two workers after a lease expired) is counted once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import LargeBinary, and_, cast, func, insert, or_, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from app.registry.batch_tables import BatchRequestRow, BatchRow, FileRow

PENDING, COMPLETED, FAILED = "pending", "completed", "failed"
# A line of a cancelled batch that no chunk worker started (distributed engine only).
CANCELLED_LINE = "cancelled"
PAGE = 500  # pending lines read at a time
# A worker takes batches in these states (it moves them on from each).
RUNNABLE = ("validating", "in_progress", "cancelling")

_REQUESTS = BatchRequestRow.__table__  # type: ignore[attr-defined]
_BATCHES = BatchRow.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class PendingLine:
    line: int
    custom_id: str
    body: str


@dataclass(frozen=True, slots=True)
class FinishedLine:
    line: int
    ok: bool
    request_id: str | None
    output: str  # the output (or error) file's line, JSON
    at: datetime


class FileRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, row: FileRow) -> FileRow:
        self.session.add(row)
        self.session.flush()
        return row

    def get(self, environment: str, file_id: str) -> FileRow | None:
        row = self.session.get(FileRow, file_id)
        return row if row is not None and row.environment == environment else None


class BatchRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, row: BatchRow, lines: Iterable[tuple[int, str, str]]) -> BatchRow:
        """The batch and its ``(line, custom_id, body)`` requests, in the caller's transaction."""
        self.session.add(row)
        self.session.flush()
        values = [
            {"batch_id": row.id, "line": n, "custom_id": c, "body": b, "status": PENDING}
            for n, c, b in lines
        ]
        for start in range(0, len(values), 1000):
            self.session.execute(insert(_REQUESTS), values[start : start + 1000])
        return row

    def get(
        self, batch_id: str, environment: str | None = None, *, lock: bool = False
    ) -> BatchRow | None:
        """``lock``: hold the row until the transaction ends (PostgreSQL; SQLite's writes
        are serialised anyway)."""
        row = self.session.get(BatchRow, batch_id, with_for_update=lock or None)
        if row is None or (environment is not None and row.environment != environment):
            return None
        return row

    def page(self, environment: str, after: str | None, limit: int) -> list[BatchRow]:
        """Newest first; ``after`` is the id of the last batch of the previous page."""
        query = select(BatchRow).where(BatchRow.environment == environment)
        if after is not None:
            anchor = self.get(after, environment)
            if anchor is not None:
                query = query.where(
                    or_(
                        col(BatchRow.created_at) < anchor.created_at,
                        and_(
                            col(BatchRow.created_at) == anchor.created_at,
                            col(BatchRow.id) < anchor.id,
                        ),
                    )
                )
        query = query.order_by(col(BatchRow.created_at).desc(), col(BatchRow.id).desc())
        return list(self.session.exec(query.limit(limit)))

    def save(self, row: BatchRow) -> None:
        self.session.add(row)
        self.session.flush()

    # -- the worker ---------------------------------------------------------------

    def runnable(self, holder: str, now: datetime, limit: int) -> list[str]:
        """Batches to run whose lease is free, expired or already ``holder``'s, oldest first."""
        query = (
            sa_select(col(BatchRow.id))
            .where(col(BatchRow.status).in_(RUNNABLE), _lease_free(holder, now))
            .order_by(col(BatchRow.created_at))
            .limit(limit)
        )
        return list(self.session.execute(query).scalars())

    def claim(self, batch_id: str, holder: str, now: datetime, until: datetime) -> bool:
        """Take or renew the lease on a runnable batch; False if another worker holds it."""
        result = self.session.execute(
            update(_BATCHES)
            .where(
                _BATCHES.c.id == batch_id,
                _BATCHES.c.status.in_(RUNNABLE),
                _lease_free(holder, now),
            )
            .values(lease_holder=holder, lease_expires_at=until)
        )
        return bool(getattr(result, "rowcount", 0))

    def release(self, batch_id: str, holder: str) -> None:
        self.session.execute(
            update(_BATCHES)
            .where(_BATCHES.c.id == batch_id, _BATCHES.c.lease_holder == holder)
            .values(lease_holder=None, lease_expires_at=None)
        )

    def pending(
        self, batch_id: str, after_line: int, limit: int, *, last: int | None = None
    ) -> list[PendingLine]:
        """Pending lines after ``after_line`` (up to ``last``), in order."""
        query = sa_select(_REQUESTS.c.line, _REQUESTS.c.custom_id, _REQUESTS.c.body).where(
            _REQUESTS.c.batch_id == batch_id,
            _REQUESTS.c.status == PENDING,
            _REQUESTS.c.line > after_line,
        )
        if last is not None:
            query = query.where(_REQUESTS.c.line <= last)
        rows = self.session.execute(query.order_by(_REQUESTS.c.line).limit(limit))
        return [PendingLine(line, custom_id, body) for line, custom_id, body in rows]

    def has_pending(self, batch_id: str) -> bool:
        found = self.session.execute(
            sa_select(_REQUESTS.c.line)
            .where(_REQUESTS.c.batch_id == batch_id, _REQUESTS.c.status == PENDING)
            .limit(1)
        ).first()
        return found is not None

    def cancel_pending(self, batch_id: str, first: int, last: int) -> None:
        """Lines of ``first..last`` not started: never to run (the batch was cancelled)."""
        self.session.execute(
            update(_REQUESTS)
            .where(
                _REQUESTS.c.batch_id == batch_id,
                _REQUESTS.c.status == PENDING,
                _REQUESTS.c.line >= first,
                _REQUESTS.c.line <= last,
            )
            .values(status=CANCELLED_LINE)
        )

    def line_ranges(self, batch_id: str, size: int) -> list[tuple[int, int]]:
        """The batch's lines cut into ``(first, last)`` runs of ``size`` lines."""
        lines = list(
            self.session.execute(
                sa_select(_REQUESTS.c.line)
                .where(_REQUESTS.c.batch_id == batch_id)
                .order_by(_REQUESTS.c.line)
            ).scalars()
        )
        return [
            (lines[i], lines[min(i + size, len(lines)) - 1]) for i in range(0, len(lines), size)
        ]

    def undispatched(self, holder: str, now: datetime, limit: int) -> list[str]:
        """Batches no chunk worker has been given yet (validating, or cancelled before)."""
        query = (
            sa_select(col(BatchRow.id))
            .where(
                or_(
                    col(BatchRow.status) == "validating",
                    and_(
                        col(BatchRow.status) == "cancelling",
                        col(BatchRow.in_progress_at).is_(None),
                    ),
                ),
                _lease_free(holder, now),
            )
            .order_by(col(BatchRow.created_at))
            .limit(limit)
        )
        return list(self.session.execute(query).scalars())

    def finish(self, batch_id: str, lines: Sequence[FinishedLine]) -> tuple[int, int]:
        """Finish pending lines; the counts ``(completed, failed)`` actually added."""
        completed = failed = 0
        for item in lines:
            result = self.session.execute(
                update(_REQUESTS)
                .where(
                    _REQUESTS.c.batch_id == batch_id,
                    _REQUESTS.c.line == item.line,
                    _REQUESTS.c.status == PENDING,
                )
                .values(
                    status=COMPLETED if item.ok else FAILED,
                    request_id=item.request_id,
                    output=item.output,
                    finished_at=item.at,
                )
            )
            if getattr(result, "rowcount", 0):
                completed += item.ok
                failed += not item.ok
        if completed or failed:
            self.session.execute(
                update(_BATCHES)
                .where(_BATCHES.c.id == batch_id)
                .values(
                    completed=_BATCHES.c.completed + completed,
                    failed=_BATCHES.c.failed + failed,
                )
            )
        return completed, failed

    def outputs(self, batch_id: str, status: str, after_line: int, limit: int) -> list[Any]:
        """``(line, output)`` of finished lines in ``status``, in line order."""
        rows = self.session.execute(
            sa_select(_REQUESTS.c.line, _REQUESTS.c.output)
            .where(
                _REQUESTS.c.batch_id == batch_id,
                _REQUESTS.c.status == status,
                _REQUESTS.c.line > after_line,
            )
            .order_by(_REQUESTS.c.line)
            .limit(limit)
        )
        return list(rows)

    def output_size(self, batch_id: str, status: str) -> tuple[int, int]:
        """How many finished lines are in ``status``, and their bytes as a JSONL file."""
        output = _REQUESTS.c.output
        postgres = self.session.get_bind().dialect.name == "postgresql"
        size = func.octet_length(output) if postgres else func.length(cast(output, LargeBinary))
        count, total = self.session.execute(
            sa_select(func.count(), func.coalesce(func.sum(size), 0)).where(
                _REQUESTS.c.batch_id == batch_id, _REQUESTS.c.status == status
            )
        ).one()
        return int(count), int(total) + int(count)  # a newline ends each line


def _lease_free(holder: str, now: datetime) -> Any:
    return or_(
        col(BatchRow.lease_holder).is_(None),
        col(BatchRow.lease_holder) == holder,
        col(BatchRow.lease_expires_at) < now,
    )
