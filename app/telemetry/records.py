"""Asynchronous, batched request-record writer that outlives database outages.

``submit`` never blocks and never fails a request: a full intake drops the
record and counts it (``queue_full``). Submitting costs an append: the
background task is woken once a batch is full (or the flush interval ends),
not once per record. It moves records into ``pending`` and writes them in
batches in a worker thread.

When a write fails because the database is unreachable, the batch goes back
to the front of ``pending`` and is retried with exponential backoff (up to
``retry_max_s``); meanwhile new records keep moving into ``pending``, which
holds at most ``buffer_size`` records: the newest past that bound are dropped
and counted (``buffer_full``). A batch the database refuses for its content
is written row by row, so one bad record cannot block the rest: rows already
stored (a retried batch whose commit did land) are skipped, and rows refused
for their content are dropped and counted (``write_failed``).

``close`` stops the task at a safe point (never in the middle of a write) and
flushes everything, retrying for at most ``timeout_s``: nothing is lost on a
clean stop while the database answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections import deque
from collections.abc import Set
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError

from app.registry.db import read_session, write_session
from app.registry.record_repo import RecordInsert, RequestRecord, RequestRecordRepository
from app.telemetry.metrics import Metrics

log = logging.getLogger("pinyard.records")

RETRY_MIN_S = 0.25


@dataclass(slots=True)
class _Outcome:
    written: int = 0
    refused: list[tuple[str, str]] = field(default_factory=list)  # (id, why)
    left: list[RequestRecord] = field(default_factory=list)  # to retry
    error: SQLAlchemyError | None = None  # why ``left`` is left


class RecordWriter:
    def __init__(
        self,
        engine: Engine,
        metrics: Metrics,
        *,
        queue_size: int,
        batch_size: int,
        flush_interval_s: float,
        buffer_size: int = 50_000,
        retry_max_s: float = 5.0,
    ) -> None:
        self.engine = engine
        self.metrics = metrics
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        self.buffer_size = buffer_size
        self.retry_max_s = max(retry_max_s, RETRY_MIN_S)
        self.queue_size = queue_size
        # Submitted, not yet taken by the background task.
        self.incoming: deque[RequestRecord] = deque()
        # Taken, not yet written: failed batches wait here for a retry.
        self.pending: deque[RequestRecord] = deque()
        self._arrived = asyncio.Event()
        self._wake_at = sys.maxsize  # ``incoming`` length that wakes the task
        self._insert_sql = RecordInsert(engine.dialect)
        self.dropped = 0
        self.last_error: str | None = None  # set while writes are failing
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._writing: list[RequestRecord] = []  # the batch being written now

    @property
    def buffered(self) -> int:
        """Records accepted and not yet written (the batch being written included)."""
        return len(self.pending) + len(self.incoming) + len(self._writing)

    def find(self, request_ids: Set[str]) -> list[RequestRecord]:
        """Records among ``request_ids`` accepted here and not yet written.

        Feedback may come that fast. One linear pass, so the request path pays
        nothing for it; it runs on the event loop, which owns these buffers.
        """
        return [
            record
            for held in (self._writing, self.pending, self.incoming)
            for record in held
            if record.id in request_ids
        ]

    def submit(self, record: RequestRecord) -> bool:
        incoming = self.incoming
        if len(incoming) >= self.queue_size:
            self._drop(1, "queue_full")
            return False
        incoming.append(record)
        if len(incoming) >= self._wake_at:
            self._arrived.set()
        return True

    def start(self) -> None:
        self._closing = False
        self._task = asyncio.create_task(self._run(), name="pinyard-record-writer")

    async def close(self, timeout_s: float = 10.0) -> None:
        """Stop the task and flush everything; retry failed writes for up to ``timeout_s``."""
        self._closing = True
        if self._task is not None:
            if not self._writing:
                self._task.cancel()  # waiting: every record taken is in ``pending``
            with contextlib.suppress(asyncio.CancelledError):
                await self._task  # writing: the loop returns after this write
            self._task = None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        delay = RETRY_MIN_S
        while True:
            self._pend(self._take(len(self.incoming)))
            if not self.pending:
                break
            if await self._write_next():
                continue
            if loop.time() + delay > deadline:
                break
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.retry_max_s)
        if self.pending:
            lost = len(self.pending)
            self.pending.clear()
            self._drop(lost, "shutdown")
            log.error("stopped with %d request records unwritten: %s", lost, self.last_error)

    # -- the background task ------------------------------------------------------

    async def _run(self) -> None:
        delay = 0.0
        while not self._closing:
            if not self.pending:
                await self._gather()
            if await self._write_next():
                delay = 0.0
                continue
            if self._closing:
                return
            delay = min(max(delay * 2, RETRY_MIN_S), self.retry_max_s)
            await self._backoff(delay)

    async def _gather(self) -> None:
        """Wait for a record, then for a full batch or the flush interval."""
        await self._wait_for(1)
        deadline = asyncio.get_running_loop().time() + self.flush_interval_s
        await self._wait_for(self.batch_size, deadline)
        self._pend(self._take(self.batch_size))

    async def _backoff(self, delay: float) -> None:
        """Sleep before a retry, moving new records into the bounded buffer meanwhile."""
        deadline = asyncio.get_running_loop().time() + delay
        while await self._wait_for(1, deadline):
            self._pend(self._take(len(self.incoming)))

    async def _wait_for(self, count: int, deadline: float | None = None) -> bool:
        """Until ``incoming`` holds ``count`` records (True) or ``deadline`` passes (False)."""
        while len(self.incoming) < count:
            self._wake_at = count
            self._arrived.clear()
            try:
                async with asyncio.timeout_at(deadline):
                    await self._arrived.wait()
            except TimeoutError:
                return False
            finally:
                self._wake_at = sys.maxsize
        return True

    # -- writing --------------------------------------------------------------------

    async def _write_next(self) -> bool:
        """Write the oldest pending batch; False (batch kept) when the database is away."""
        batch = [self.pending.popleft() for _ in range(min(self.batch_size, len(self.pending)))]
        if not batch:
            return True
        self._writing = batch
        try:
            outcome = await asyncio.to_thread(self._write_sync, batch)
        finally:
            self._writing = []
        if outcome.written:
            self.metrics.records_written.inc(outcome.written)
        for row_id, problem in outcome.refused:
            self._drop(1, "write_failed")
            log.error("request record %s refused by the database: %s", row_id, problem)
        if outcome.error is not None:
            if self.last_error is None:
                log.error(
                    "could not write %d request records; holding them for a retry: %s",
                    len(outcome.left),
                    outcome.error,
                )
            self.last_error = (
                f"database unavailable for request records: {type(outcome.error).__name__}"
            )
            self.pending.extendleft(reversed(outcome.left))
            self._trim()
            return False
        if self.last_error is not None:
            log.warning("request records are being written again")
            self.last_error = None
        return True

    def _write_sync(self, batch: list[RequestRecord]) -> _Outcome:
        """Write ``batch`` (worker thread); say what was written, refused and is left."""
        try:
            self._insert(batch)
        except (IntegrityError, DataError):
            return self._write_rows(batch)
        except SQLAlchemyError as exc:
            return _Outcome(left=batch, error=exc)
        return _Outcome(written=len(batch))

    def _write_rows(self, batch: list[RequestRecord]) -> _Outcome:
        """One transaction per row, so one refused row cannot hold the others back."""
        outcome = _Outcome()
        for index, row in enumerate(batch):
            try:
                self._insert([row])
                outcome.written += 1
            except (IntegrityError, DataError) as exc:
                if not self._stored(row.id):  # else: a retried write whose commit had landed
                    outcome.refused.append((row.id, str(exc.orig or exc)))
            except SQLAlchemyError as exc:
                outcome.left, outcome.error = batch[index:], exc
                break
        return outcome

    def _insert(self, rows: list[RequestRecord]) -> None:
        with write_session(self.engine, registry_lock=False) as session:
            RequestRecordRepository(session).add_many(rows, self._insert_sql)

    def _stored(self, request_id: str) -> bool:
        with read_session(self.engine) as session:
            return RequestRecordRepository(session).get(request_id) is not None

    # -- the bounded buffer -----------------------------------------------------------

    def _take(self, limit: int) -> list[RequestRecord]:
        incoming = self.incoming
        return [incoming.popleft() for _ in range(min(limit, len(incoming)))]

    def _pend(self, records: list[RequestRecord]) -> None:
        self.pending.extend(records)
        self._trim()

    def _trim(self) -> None:
        excess = len(self.pending) - self.buffer_size
        if excess > 0:
            for _ in range(excess):
                self.pending.pop()
            self._drop(excess, "buffer_full")

    def _drop(self, count: int, reason: str) -> None:
        before = self.dropped
        self.dropped += count
        self.metrics.records_dropped.labels(reason).inc(count)
        if before == 0 or before // 1000 != self.dropped // 1000:
            log.warning("request records dropped (%s): %d dropped so far", reason, self.dropped)
