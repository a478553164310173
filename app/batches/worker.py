"""The gateway's own batch worker: a task in each process, no extra service to run.

It looks for runnable batches (``validating``, ``in_progress``, ``cancelling``)
every poll interval, or at once when a batch is created through this process,
takes a lease on each it starts (renewed while it runs, so replicas and
``--workers`` processes never run one batch twice at a time, and a crashed
worker's batches are taken over when its lease expires), and runs up to
``max_active`` batches at once, each as a ``BatchRun``.

On shutdown it stops starting lines, lets those in flight finish within the
grace period, writes what finished and releases its leases: a restarted
gateway resumes each batch from its pending lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from app.batches.batch_run import SHUTDOWN, BatchRun
from app.batches.endpoints import BatchEndpoints
from app.batches.lanes import ProviderLanes
from app.batches.service import new_file_id
from app.registry.batch_repo import BatchRepository
from app.registry.db import write_session
from app.registry.snapshot import SnapshotStore
from app.registry.tables import utcnow

log = logging.getLogger("pinyard.batches")


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    concurrency: int = 16  # lines of one batch in flight
    provider_concurrency: int = 64  # lines of all batches on one provider in flight
    max_active: int = 4  # batches run at once
    poll_interval_s: float = 1.0
    lease_ttl_s: float = 30.0

    @property
    def renew_every_s(self) -> float:
        return min(1.0, self.lease_ttl_s / 3)


class BatchWorker:
    def __init__(
        self,
        engine: Engine,
        snapshots: SnapshotStore,
        endpoints: BatchEndpoints,
        options: WorkerOptions,
        holder: str | None = None,
    ) -> None:
        self.engine = engine
        self.snapshots = snapshots
        self.endpoints = endpoints
        self.options = options
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.lanes = ProviderLanes(options.provider_concurrency)
        self.new_file_id = new_file_id
        self._runs: dict[str, BatchRun] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._wake = asyncio.Event()
        self._stopping = False

    @property
    def running(self) -> list[str]:
        return sorted(self._runs)

    def wake(self) -> None:
        self._wake.set()

    def cancelled(self, batch_id: str) -> None:
        """A cancel made through this process: stop starting that batch's lines now."""
        run = self._runs.get(batch_id)
        if run is not None:
            run.stop("cancelled")

    async def run(self) -> None:
        """Forever (until ``close``): take runnable batches and run them."""
        while not self._stopping:
            await self._take_new()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.options.poll_interval_s):
                    await self._wake.wait()
            self._wake.clear()

    async def close(self, grace_s: float) -> None:
        """Stop starting lines; wait ``grace_s`` for lines in flight; write; release."""
        self._stopping = True
        self._wake.set()
        for run in self._runs.values():
            run.stop(SHUTDOWN)
        tasks = list(self._tasks.values())
        if not tasks:
            return
        _, late = await asyncio.wait(tasks, timeout=grace_s)
        for batch_id, task in self._tasks.items():
            if task in late:
                self._runs[batch_id].abort()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.to_thread(self._release, list(self._tasks))

    async def _take_new(self) -> None:
        free = self.options.max_active - len(self._runs)
        if free <= 0:
            return
        try:
            found = await asyncio.to_thread(self._runnable, free + len(self._runs))
        except SQLAlchemyError as exc:
            log.warning("looking for batches failed (will retry): %s", exc)
            return
        for batch_id in found:
            if self._stopping or len(self._runs) >= self.options.max_active:
                return
            if batch_id in self._runs:
                continue
            try:
                taken = await asyncio.to_thread(self._claim, batch_id)
            except SQLAlchemyError as exc:
                log.warning("taking batch %s failed (will retry): %s", batch_id, exc)
                return
            if taken:
                self._start(batch_id)

    def _start(self, batch_id: str) -> None:
        run = BatchRun(self, batch_id)
        self._runs[batch_id] = run
        task = asyncio.create_task(run.run(), name=f"pinyard-batch-{batch_id}")
        self._tasks[batch_id] = task
        task.add_done_callback(lambda done: self._ended(batch_id, done))

    def _ended(self, batch_id: str, task: asyncio.Task[None]) -> None:
        if self._stopping:
            return  # close() still needs them, to release the leases
        self._runs.pop(batch_id, None)
        self._tasks.pop(batch_id, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("batch %s stopped by an error", batch_id, exc_info=task.exception())
        self._wake.set()  # a slot is free

    # -- database work, in a thread -----------------------------------------------------

    def _runnable(self, limit: int) -> list[str]:
        with write_session(self.engine, registry_lock=False) as session:
            return BatchRepository(session).runnable(self.holder, utcnow(), limit)

    def _claim(self, batch_id: str) -> bool:
        now = utcnow()
        with write_session(self.engine, registry_lock=False) as session:
            until = now + timedelta(seconds=self.options.lease_ttl_s)
            return BatchRepository(session).claim(batch_id, self.holder, now, until)

    def _release(self, batch_ids: list[str]) -> None:
        try:
            with write_session(self.engine, registry_lock=False) as session:
                batches = BatchRepository(session)
                for batch_id in batch_ids:
                    batches.release(batch_id, self.holder)
        except SQLAlchemyError as exc:
            log.warning("releasing batch leases failed; they expire by themselves: %s", exc)
