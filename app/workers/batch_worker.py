"""``dramatiq app.workers.batch_worker``: Dramatiq workers that run batch chunks.

With ``PINYARD_BATCH_EXECUTOR=dramatiq`` the gateways hand each batch to the
broker in chunks (``app.batches.dispatcher``); start as many of these workers
as the load needs, on any machine that reaches the database, the broker and
the providers, with the gateway's own settings::

    dramatiq app.workers.batch_worker --processes 2 --threads 8

Each process builds the gateway's context once (settings, registry snapshot kept
fresh, provider client, record writer) and runs every chunk on Dramatiq's event
loop through the gateway's own pipelines: the same lines, records and lineage
as the gateway's worker. Dramatiq declares its broker and actors when the module
is imported: that module state is the engine's way, and the only such state here.
"""

from __future__ import annotations

import asyncio
import logging

import dramatiq
from dramatiq.asyncio import get_event_loop_thread
from sqlalchemy import Engine

from app.batches.batch_run import BatchRun
from app.batches.batch_runtime import worker_options
from app.batches.chunk_queue import ACTOR, MAX_RETRIES, TIME_LIMIT_MS, make_broker
from app.batches.endpoints import BatchEndpoints
from app.batches.lanes import ProviderLanes
from app.batches.service import new_file_id
from app.context import AppContext
from app.gateway.batch_rows import batch_endpoints
from app.main import build_context
from app.registry.snapshot import SnapshotStore
from app.settings import Settings

log = logging.getLogger("pinyard.batches")


class ChunkWorker:
    """One worker process: its context, built on first use, and the chunks it runs."""

    holder = None  # chunks hold no lease

    def __init__(self, settings: Settings) -> None:
        # Only the gateway hands batches out: here the context never starts a worker.
        self.settings = settings.model_copy(update={"batch_worker": False})
        self.options = worker_options(settings)
        self.lanes = ProviderLanes(settings.batch_provider_concurrency)
        self.new_file_id = new_file_id
        self._ctx: AppContext | None = None
        self._ready: asyncio.Lock | None = None
        self._watch: asyncio.Task[None] | None = None
        self._endpoints: BatchEndpoints = {}

    @property
    def ctx(self) -> AppContext:
        assert self._ctx is not None, "call start() first"
        return self._ctx

    # RunHost, for BatchRun
    @property
    def engine(self) -> Engine:
        return self.ctx.engine

    @property
    def snapshots(self) -> SnapshotStore:
        return self.ctx.snapshots

    @property
    def endpoints(self) -> BatchEndpoints:
        return self._endpoints

    async def start(self) -> None:
        self._ready = self._ready or asyncio.Lock()
        async with self._ready:
            if self._ctx is not None:
                return
            ctx = build_context(self.settings)
            await ctx.snapshots.load()  # migrations are the gateway's (or `pinyard db upgrade`)
            ctx.records.start()
            self._watch = asyncio.create_task(
                ctx.snapshots.watch(self.settings.snapshot_poll_interval_s)
            )
            self._endpoints = batch_endpoints(ctx)
            self._ctx = ctx

    async def run_chunk(self, batch_id: str, first: int, last: int) -> None:
        await self.start()
        await BatchRun(self, batch_id, (first, last)).run()

    async def close(self) -> None:
        """Write the records still buffered; release the pooled connections."""
        if self._ctx is None:
            return
        if self._watch is not None:
            self._watch.cancel()
        await self._ctx.records.close(timeout_s=self.settings.shutdown_grace_s)
        await self._ctx.providers.aclose()
        self._ctx.engine.dispose()
        self._ctx = None


class _CloseOnShutdown(dramatiq.Middleware):
    def __init__(self, worker: ChunkWorker) -> None:
        self.worker = worker

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        loop = get_event_loop_thread()
        if loop is not None:
            loop.run_coroutine(self.worker.close())


_settings = Settings()
if _settings.batch_broker_url is None:
    raise RuntimeError("set PINYARD_BATCH_BROKER_URL (amqp://... or redis://...) for the workers")
_chunks = ChunkWorker(_settings)
broker = make_broker(_settings.batch_broker_url.get_secret_value())
broker.add_middleware(_CloseOnShutdown(_chunks))
dramatiq.set_broker(broker)


@dramatiq.actor(
    actor_name=ACTOR,
    queue_name=_settings.batch_queue,
    max_retries=MAX_RETRIES,
    time_limit=TIME_LIMIT_MS,
)
async def run_chunk(batch_id: str, first: int, last: int) -> None:
    """Run the pending lines ``first..last`` of a batch; end the batch if none is left."""
    await _chunks.run_chunk(batch_id, first, last)
