"""With ``PINYARD_BATCH_EXECUTOR=dramatiq``: the gateway hands each new batch to the engine.

Instead of running lines, each gateway's worker task takes new batches (under
the same lease as the local worker, so one replica hands each out), cuts their
lines into chunks of ``PINYARD_BATCH_CHUNK_SIZE``, enqueues one message per
chunk and marks the batch ``in_progress``. From then on the chunk workers own
it; a batch cancelled before it was handed out is ended here.

If the gateway stops between enqueueing and marking, the lease expires and the
batch is handed out again: chunk workers run only pending lines, so a line may
then run twice at the same moment but is counted (and written) once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from app.batches.chunk_queue import ChunkQueue
from app.batches.finalize import CANCELLED, finalize
from app.batches.service import new_file_id
from app.registry.batch_repo import BatchRepository
from app.registry.db import write_session
from app.registry.tables import utcnow

log = logging.getLogger("pinyard.batches")


class BatchDispatcher:
    def __init__(
        self,
        engine: Engine,
        queue: ChunkQueue,
        *,
        holder: str,
        chunk_size: int,
        poll_interval_s: float,
        lease_ttl_s: float,
    ) -> None:
        self.engine = engine
        self.queue = queue
        self.holder = holder
        self.chunk_size = chunk_size
        self.poll_interval_s = poll_interval_s
        self.lease_ttl_s = lease_ttl_s
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        away: tuple[type[Exception], ...] = (SQLAlchemyError, *self.queue.errors)
        while True:
            try:
                await asyncio.to_thread(self.dispatch)
            except away as exc:
                log.warning("handing batches to the workers failed (will retry): %s", exc)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_interval_s):
                    await self._wake.wait()
            self._wake.clear()

    def dispatch(self) -> list[str]:
        """Hand out every new batch; the ids handed out."""
        now = utcnow()
        with write_session(self.engine, registry_lock=False) as session:
            found = BatchRepository(session).undispatched(self.holder, now, 50)
        handed = []
        for batch_id in found:
            if self._dispatch_one(batch_id):
                handed.append(batch_id)
        return handed

    def _dispatch_one(self, batch_id: str) -> bool:
        now = utcnow()
        until = now + timedelta(seconds=self.lease_ttl_s)
        with write_session(self.engine, registry_lock=False) as session:
            batches = BatchRepository(session)
            if not batches.claim(batch_id, self.holder, now, until):
                return False
            row = batches.get(batch_id)
            assert row is not None
            if row.status == "cancelling":
                finalize(session, batch_id, CANCELLED, new_file_id)
                return False
            chunks = batches.line_ranges(batch_id, self.chunk_size)
        self.queue.enqueue(batch_id, chunks)
        with write_session(self.engine, registry_lock=False) as session:
            batches = BatchRepository(session)
            row = batches.get(batch_id)
            assert row is not None
            if row.status == "validating":
                row.status, row.in_progress_at = "in_progress", utcnow()
            elif row.status == "cancelling":
                row.in_progress_at = row.in_progress_at or utcnow()  # chunks will end it
            row.lease_holder, row.lease_expires_at = None, None
            batches.save(row)
        log.info("batch %s handed to the workers in %d chunks", batch_id, len(chunks))
        return True
