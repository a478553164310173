"""Asynchronous, batched request-record writer.

``submit`` never blocks and never fails a request: a full queue drops the
record and counts it. A background task writes batches in a worker thread;
``close`` flushes whatever is queued, so a clean stop loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from app.registry.db import write_session
from app.registry.record_repo import RequestRecordRepository
from app.registry.tables import RequestRecordRow
from app.telemetry.metrics import Metrics

log = logging.getLogger("pinyard.records")


class RecordWriter:
    def __init__(
        self,
        engine: Engine,
        metrics: Metrics,
        *,
        queue_size: int,
        batch_size: int,
        flush_interval_s: float,
    ) -> None:
        self.engine = engine
        self.metrics = metrics
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        self.queue: asyncio.Queue[RequestRecordRow] = asyncio.Queue(maxsize=queue_size)
        self.dropped = 0
        self._task: asyncio.Task[None] | None = None

    def submit(self, record: RequestRecordRow) -> bool:
        try:
            self.queue.put_nowait(record)
        except asyncio.QueueFull:
            self.dropped += 1
            self.metrics.records_dropped.labels("queue_full").inc()
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.warning("request-record queue full: %d records dropped so far", self.dropped)
            return False
        return True

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="pinyard-record-writer")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        while not self.queue.empty():
            await self._write(self._take(self.batch_size))

    def _take(self, limit: int) -> list[RequestRecordRow]:
        batch: list[RequestRecordRow] = []
        while len(batch) < limit:
            try:
                batch.append(self.queue.get_nowait())
            except asyncio.QueueEmpty:
                break
        return batch

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            first = await self.queue.get()
            batch = [first]
            deadline = loop.time() + self.flush_interval_s
            while len(batch) < self.batch_size:
                batch.extend(self._take(self.batch_size - len(batch)))
                remaining = deadline - loop.time()
                if len(batch) >= self.batch_size or remaining <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(self.queue.get(), remaining))
                except TimeoutError:
                    break
            await self._write(batch)

    async def _write(self, batch: list[RequestRecordRow]) -> None:
        if not batch:
            return
        try:
            await asyncio.to_thread(self._write_sync, batch)
        except SQLAlchemyError as exc:
            self.metrics.records_dropped.labels("write_failed").inc(len(batch))
            log.error("could not write %d request records: %s", len(batch), exc)
            return
        self.metrics.records_written.inc(len(batch))

    def _write_sync(self, batch: list[RequestRecordRow]) -> None:
        with write_session(self.engine, registry_lock=False) as session:
            RequestRecordRepository(session).add_many(batch)
