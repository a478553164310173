"""Shadow traffic: the candidate answers sampled live requests off the client's path.

``tap`` samples a request of a rollout's shadow step and wraps its answer
(``app.rollouts.shadow_tap``); once the client has its answer the tap offers
the primary side (request body, answer, latency) and returns at once. The
runner then starts a background task that prepares the request as the
candidate bundle would (its input guardrails, retrieval, prompt and params,
through the gateway's ``prepare_chat``, injected as ``prepare``), calls the
candidate's model, applies its output guardrails, compares the two answers and
queues the pair for a batched write. Retrieval uses the runner's own HTTP
client, so shadow load never competes with clients for connections. Nothing
the client waits for ever awaits a shadow call. Work is bounded: at most
``max_pending`` shadow calls exist at once (all rollouts), at most the
rollout's ``max_concurrency`` are in flight for it, and an optional daily
budget caps its calls (per replica, per UTC day). Samples refused for any of
these reasons are counted, never queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import Counter
from collections.abc import Callable
from datetime import date
from typing import Any

import httpx
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from app.errors import PinyardError
from app.guardrails.apply import check_completion
from app.guardrails.check import Outcome
from app.providers.client import ProviderClient
from app.providers.interface import Attempt
from app.registry.compiled import CompiledBundle, PrepareChat
from app.registry.db import write_session
from app.registry.rollout_repo import ShadowPairRepository
from app.registry.snapshot import ActiveRollout
from app.registry.tables import ShadowPairRow, utcnow
from app.rollouts.compare import Answer, answer_text, clip, compare, usage_tokens
from app.rollouts.shadow_tap import Primary, ShadowTap, TappedRequest
from app.telemetry.metrics import Metrics

log = logging.getLogger("pinyard.shadow")


async def call_candidate(
    bundle: CompiledBundle,
    body: dict[str, Any],
    *,
    providers: ProviderClient,
    prepare: PrepareChat,
    http: httpx.AsyncClient,
) -> dict[str, Any]:
    """The candidate's answer to ``body``, as the pipeline would produce it (no fallbacks)."""
    outcomes: list[Outcome] = []
    planned = await prepare(bundle, body, stream=False, http=http, outcomes=outcomes)
    attempts: list[Attempt] = []
    response = await providers.complete(planned.call, attempts)
    return check_completion(bundle.guardrails, response, outcomes)


class ShadowRunner:
    def __init__(
        self,
        providers: ProviderClient,
        engine: Engine,
        metrics: Metrics,
        *,
        prepare: PrepareChat,
        max_pending: int,
        keep_text: bool = True,
        flush_interval_s: float = 0.5,
        batch_size: int = 200,
        sample: Callable[[], float] = random.random,
    ) -> None:
        self.providers = providers
        self.prepare = prepare
        self.engine = engine
        self.metrics = metrics
        self.max_pending = max_pending
        self.keep_text = keep_text
        self.flush_interval_s = flush_interval_s
        self.batch_size = batch_size
        self._sample = sample
        self._tasks: set[asyncio.Task[None]] = set()
        self._in_flight: Counter[str] = Counter()
        self._spent: dict[str, tuple[date, int]] = {}
        self._pairs: asyncio.Queue[ShadowPairRow] = asyncio.Queue(maxsize=max(1, max_pending) * 4)
        self._writer: asyncio.Task[None] | None = None
        self.http = httpx.AsyncClient()
        self._carry: list[ShadowPairRow] = []  # taken off the queue, not yet written

    @property
    def pending(self) -> int:
        return len(self._tasks)

    def tap(
        self, rollout: ActiveRollout | None, request: TappedRequest, body: dict[str, Any]
    ) -> ShadowTap | None:
        """The wrapper for this request's answer, when its rollout shadows and it is sampled."""
        if rollout is None:
            return None
        shadow = rollout.shadow
        if shadow is None or shadow.rate <= 0 or self._sample() >= shadow.rate:
            return None
        return ShadowTap(self.offer, rollout, request, body)

    def offer(self, rollout: ActiveRollout, primary: Primary) -> bool:
        """Schedule the candidate run for a sampled primary; never blocks, never raises."""
        reason = self._refusal(rollout)
        if reason is not None:
            self.metrics.shadow_dropped.labels(reason).inc()
            return False
        self._in_flight[rollout.id] += 1
        task = asyncio.create_task(self._run(rollout, primary), name="pinyard-shadow")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    def _refusal(self, rollout: ActiveRollout) -> str | None:
        assert rollout.shadow is not None
        if len(self._tasks) >= self.max_pending:
            return "queue_full"
        if self._in_flight[rollout.id] >= rollout.shadow.max_concurrency:
            return "concurrency"
        budget = rollout.shadow.daily_budget
        if budget is not None:
            today = utcnow().date()
            day, spent = self._spent.get(rollout.id, (today, 0))
            spent = spent if day == today else 0
            if spent >= budget:
                return "budget"
            self._spent[rollout.id] = (today, spent + 1)
        return None

    async def _run(self, rollout: ActiveRollout, primary: Primary) -> None:
        try:
            candidate = await self._call(rollout, primary.body)
            self._store(rollout, primary, candidate)
        finally:
            self._in_flight[rollout.id] -= 1
            if self._in_flight[rollout.id] <= 0:
                del self._in_flight[rollout.id]

    async def _call(self, rollout: ActiveRollout, body: dict[str, Any]) -> Answer:
        started = time.perf_counter()
        try:
            response = await call_candidate(
                rollout.candidate.compiled,
                body,
                providers=self.providers,
                prepare=self.prepare,
                http=self.http,
            )
        except PinyardError as exc:
            elapsed = (time.perf_counter() - started) * 1000
            return Answer(False, None, elapsed, error=f"{exc.code}: {exc.message}")
        elapsed = (time.perf_counter() - started) * 1000
        return Answer(True, answer_text(response), elapsed, usage_tokens(response.get("usage")))

    def _store(self, rollout: ActiveRollout, primary: Primary, candidate: Answer) -> None:
        p = primary.answer
        diff = compare(p, candidate)
        compared = p.ok and candidate.ok and not primary.fallback
        outcome = "compared" if compared else "fallback" if primary.fallback else "error"
        self.metrics.shadow_pairs.labels(rollout.environment, rollout.alias, outcome).inc()
        row = ShadowPairRow(
            rollout_id=rollout.id,
            step=rollout.step,
            created_at=utcnow(),
            request_id=primary.request_id,
            primary_ok=p.ok,
            candidate_ok=candidate.ok,
            primary_fallback=primary.fallback,
            primary_error=p.error,
            candidate_error=candidate.error,
            primary_text=clip(p.text) if self.keep_text else None,
            candidate_text=clip(candidate.text) if self.keep_text else None,
            exact_match=diff.exact_match,
            similarity=diff.similarity,
            json_equal=diff.json_equal,
            json_shape_equal=diff.json_shape_equal,
            length_ratio=diff.length_ratio,
            primary_latency_ms=round(p.latency_ms, 3),
            candidate_latency_ms=round(candidate.latency_ms, 3),
            latency_delta_ms=diff.latency_delta_ms,
            primary_tokens=p.tokens,
            candidate_tokens=candidate.tokens,
            token_delta=diff.token_delta,
        )
        try:
            self._pairs.put_nowait(row)
        except asyncio.QueueFull:
            self.metrics.shadow_dropped.labels("write_queue_full").inc()

    # -- lifecycle and the batched pair writer ------------------------------------

    def start(self) -> None:
        self._writer = asyncio.create_task(self._write_loop(), name="pinyard-shadow-writer")

    async def close(self) -> None:
        """Cancel shadow calls still running (their pairs are lost), flush stored ones."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
            self._writer = None
        await self.flush()
        await self.http.aclose()

    async def flush(self) -> None:
        """Write every queued pair now (tests and shutdown)."""
        carried, self._carry = self._carry, []
        await self._write(carried)
        while not self._pairs.empty():
            await self._write(self._take())

    def _take(self) -> list[ShadowPairRow]:
        batch: list[ShadowPairRow] = []
        while len(batch) < self.batch_size and not self._pairs.empty():
            batch.append(self._pairs.get_nowait())
        return batch

    async def _write_loop(self) -> None:
        while True:
            self._carry = [await self._pairs.get()]
            await asyncio.sleep(self.flush_interval_s)
            batch, self._carry = [*self._carry, *self._take()], []
            await self._write(batch)

    async def _write(self, batch: list[ShadowPairRow]) -> None:
        if not batch:
            return
        try:
            await asyncio.to_thread(self._write_sync, batch)
        except SQLAlchemyError as exc:
            self.metrics.shadow_dropped.labels("write_failed").inc(len(batch))
            log.error("could not write %d shadow pairs: %s", len(batch), exc)

    def _write_sync(self, batch: list[ShadowPairRow]) -> None:
        with write_session(self.engine, registry_lock=False) as session:
            ShadowPairRepository(session).add_many(batch)
