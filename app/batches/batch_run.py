"""One batch, run by one worker: its pending lines, bounded, until none is left.

Lines start in input order, at most ``concurrency`` of this batch at once and
within the provider's lane (``app.batches.lanes``). Finished lines are written
together every ``FLUSH_S`` (their output, request id and the batch's counts, in
one transaction); the same write renews the lease and reads the batch's status,
so a cancel made through another replica is seen within a second.

A line is pending in the database until its answer is written: a worker that
stops (shutdown, lost lease) leaves the batch ``in_progress`` and whoever takes
it next starts from the lines still pending, so a finished line never runs again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

from app.batches.endpoints import BatchEndpoint
from app.batches.finalize import CANCELLED, EXPIRED, finalize
from app.batches.lanes import Lane
from app.batches.line_runner import run_line
from app.registry.batch_repo import PAGE, BatchRepository, FinishedLine, PendingLine
from app.registry.batch_tables import BatchRow
from app.registry.db import write_session
from app.registry.snapshot import ServedBundle
from app.registry.tables import as_utc, utcnow

if TYPE_CHECKING:
    from app.batches.worker import BatchWorker

log = logging.getLogger("pinyard.batches")

FLUSH_S = 0.25
FLUSH_LINES = 256  # flush early once this many lines wait

# Why a run stopped starting lines (besides CANCELLED and EXPIRED).
SHUTDOWN, LEASE_LOST = "shutdown", "lease_lost"


class BatchRun:
    def __init__(self, worker: BatchWorker, batch_id: str) -> None:
        self.worker = worker
        self.batch_id = batch_id
        self.stop_reason: str | None = None
        self._stopped = asyncio.Event()
        self._flush_now = asyncio.Event()
        self._finished: list[FinishedLine] = []
        self._lines: set[asyncio.Task[None]] = set()
        self._last_renew = 0.0

    def stop(self, reason: str) -> None:
        """Start no more lines (lines in flight finish); the first reason given wins."""
        if self.stop_reason is None:
            self.stop_reason = reason
        self._stopped.set()

    def abort(self) -> None:
        """Cancel the lines in flight too (after the shutdown grace): they stay pending."""
        for task in self._lines:
            task.cancel()

    async def run(self) -> None:
        row = await asyncio.to_thread(self._begin)
        if row.status == "cancelling":
            self.stop(CANCELLED)
        keeper = asyncio.create_task(self._keep(row), name=f"pinyard-batch-keep-{row.id}")
        try:
            if self.stop_reason is None:
                bundle = await self._bundle(row.bundle_digest)
                if bundle is not None:
                    await self._start_lines(row, bundle)
            if self._lines:
                for outcome in await asyncio.gather(*self._lines, return_exceptions=True):
                    if isinstance(outcome, Exception):  # a bug: the line stays pending
                        log.error("batch %s: a line failed", row.id, exc_info=outcome)
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
        await self._write_until_done(row)
        if self.stop_reason in (SHUTDOWN, LEASE_LOST):
            return  # still in_progress: the next worker resumes from the pending lines
        await asyncio.to_thread(self._finalize, row, self.stop_reason)

    async def _start_lines(self, row: BatchRow, bundle: ServedBundle) -> None:
        worker = self.worker
        endpoint = worker.endpoints[row.endpoint]
        lane = worker.lanes.for_model(bundle.compiled.spec.model)
        slots = asyncio.Semaphore(worker.options.concurrency)
        after = 0
        while not self._stopped.is_set():
            page = await asyncio.to_thread(self._pending, after)
            if not page:
                return
            for line in page:
                await slots.acquire()
                if self._stopped.is_set():
                    slots.release()
                    return
                task = asyncio.create_task(self._line(row, bundle, endpoint, lane, line))
                self._lines.add(task)
                task.add_done_callback(self._lines.discard)
                task.add_done_callback(lambda _: slots.release())
            after = page[-1].line

    async def _line(
        self,
        row: BatchRow,
        bundle: ServedBundle,
        endpoint: BatchEndpoint,
        lane: Lane,
        line: PendingLine,
    ) -> None:
        finished = await run_line(row, bundle, endpoint, lane, line, self._stopped.is_set)
        self._finished.append(finished)
        if len(self._finished) >= FLUSH_LINES:
            self._flush_now.set()

    async def _bundle(self, digest: str) -> ServedBundle | None:
        """The pinned bundle from the snapshot (immutable under its digest)."""
        while not self._stopped.is_set():
            bundle = self.worker.snapshots.current.by_digest.get(digest)
            if bundle is not None:
                return bundle
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(FLUSH_S):
                    await self._stopped.wait()
        return None

    async def _keep(self, row: BatchRow) -> None:
        """Every ``FLUSH_S``: write finished lines; every second, renew and look at the status."""
        loop = asyncio.get_running_loop()
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(FLUSH_S):
                    await self._flush_now.wait()
            self._flush_now.clear()
            renew = loop.time() - self._last_renew >= self.worker.options.renew_every_s
            try:
                status = await asyncio.to_thread(self._sync, renew)
            except SQLAlchemyError as exc:
                log.warning("batch %s: progress not written yet (will retry): %s", row.id, exc)
                continue
            if renew:
                self._last_renew = loop.time()
            if status is None:
                self.stop(LEASE_LOST)
            elif status == "cancelling":
                self.stop(CANCELLED)
            elif utcnow() >= as_utc(row.expires_at):
                self.stop(EXPIRED)

    async def _write_until_done(self, row: BatchRow) -> None:
        """The last finished lines, retried while the database is away (shutdown bounds it)."""
        while self._finished:
            try:
                await asyncio.to_thread(self._sync, False)
            except SQLAlchemyError as exc:
                log.warning("batch %s: final progress not written yet: %s", row.id, exc)
                await asyncio.sleep(1.0)

    # -- database work, in a thread -----------------------------------------------------

    def _begin(self) -> BatchRow:
        with write_session(self.worker.engine, registry_lock=False) as session:
            batches = BatchRepository(session)
            row = batches.get(self.batch_id)
            assert row is not None
            if row.status == "validating":
                row.status, row.in_progress_at = "in_progress", utcnow()
                batches.save(row)
            return row

    def _pending(self, after: int) -> list[PendingLine]:
        with write_session(self.worker.engine, registry_lock=False) as session:
            return BatchRepository(session).pending(self.batch_id, after, PAGE)

    def _sync(self, renew: bool) -> str | None:
        """Write finished lines; with ``renew``, extend the lease. The status, None if lost."""
        lines, self._finished = self._finished, []
        worker = self.worker
        try:
            with write_session(worker.engine, registry_lock=False) as session:
                batches = BatchRepository(session)
                if lines:
                    batches.finish(self.batch_id, lines)
                if renew:
                    now = utcnow()
                    until = now + timedelta(seconds=worker.options.lease_ttl_s)
                    if not batches.claim(self.batch_id, worker.holder, now, until):
                        return None
                row = batches.get(self.batch_id)
                return row.status if row is not None else None
        except BaseException:
            self._finished = lines + self._finished  # not written: try again
            raise

    def _finalize(self, row: BatchRow, reason: str | None) -> None:
        with write_session(self.worker.engine, registry_lock=False) as session:
            ended = finalize(session, self.batch_id, reason, self.worker.new_file_id)
        log.info("batch %s %s", row.id, ended.status)
