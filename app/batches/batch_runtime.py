"""Batches, assembled for one process: the service the routes call and its worker."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from sqlalchemy import Engine

from app.batches.endpoints import BatchEndpoints
from app.batches.service import BatchLimits, BatchService
from app.batches.worker import BatchWorker, WorkerOptions
from app.registry.snapshot import SnapshotStore
from app.settings import Settings


@dataclass(slots=True)
class BatchRuntime:
    service: BatchService
    worker: BatchWorker
    enabled: bool  # PINYARD_BATCH_WORKER: run lines in this process
    _task: asyncio.Task[None] | None = field(default=None, init=False)

    @classmethod
    def build(
        cls,
        settings: Settings,
        engine: Engine,
        snapshots: SnapshotStore,
        endpoints: BatchEndpoints,
    ) -> BatchRuntime:
        worker = BatchWorker(engine, snapshots, endpoints, worker_options(settings))
        limits = BatchLimits(settings.batch_max_file_bytes, settings.batch_max_requests)
        service = BatchService(engine, endpoints, limits)
        return cls(service, worker, settings.batch_worker)

    def start(self) -> None:
        if self.enabled and self._task is None:
            self._task = asyncio.create_task(self.worker.run(), name="pinyard-batch-worker")

    def wake(self) -> None:
        """A batch was created here: look for work now rather than at the next poll."""
        self.worker.wake()

    def cancelled(self, batch_id: str) -> None:
        """Cancelled through this process: its worker stops starting lines at once."""
        self.worker.cancelled(batch_id)

    async def close(self, grace_s: float) -> None:
        if self._task is None:
            return
        await self.worker.close(grace_s)
        await self._task
        self._task = None


def worker_options(settings: Settings) -> WorkerOptions:
    return WorkerOptions(
        concurrency=settings.batch_concurrency,
        provider_concurrency=settings.batch_provider_concurrency,
        max_active=settings.batch_max_active,
        poll_interval_s=settings.batch_poll_interval_s,
        lease_ttl_s=settings.batch_lease_ttl_s,
    )
