"""What a gateway process runs for rollouts: the service, the shadow runner, the loop.

The request path touches two things, neither of which waits on anything: the
shadow runner's ``tap`` (which wraps a sampled request's answer during a shadow
step) and, at the end of every request of a rollout's arm, ``count``. The
analysis loop runs in the background of every replica, but only the lease
holder decides.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from app.providers.client import ProviderClient
from app.registry.compiled import PrepareChat
from app.registry.snapshot import ActiveRollout
from app.registry.tables import utcnow
from app.registry.writes import RegistryService
from app.rollouts.loop import AnalysisLoop
from app.rollouts.shadow import ShadowRunner
from app.rollouts.transitions import RolloutService
from app.settings import Settings
from app.telemetry.metrics import Metrics

if TYPE_CHECKING:
    from collections.abc import Callable

CLIENT_GONE = 499


class FinishedRequest(Protocol):
    """What a finished request tells its rollout (``app.gateway.lineage.Lineage``)."""

    rollout: ActiveRollout | None
    arm: str | None
    status: int
    guardrail_blocked: bool
    usage: dict[str, Any] | None
    fallback_index: int | None  # 0: the arm's own bundle answered; k: its k-th fallback

    def elapsed_ms(self) -> float: ...


def arm_outcome(request: FinishedRequest) -> str:
    """fallback, blocked, error or ok, as ``RolloutRepository.arm_counts`` counts them.

    An answer from a fallback is the arm's own bundle failing, whatever followed.
    """
    if request.fallback_index:
        return "fallback"
    if request.guardrail_blocked:
        return "blocked"
    return "error" if request.status >= 400 else "ok"


class RolloutRuntime:
    def __init__(
        self,
        service: RolloutService,
        shadow: ShadowRunner,
        loop: AnalysisLoop,
        metrics: Metrics,
        *,
        run_loop: bool = True,
    ) -> None:
        self.service = service
        self.shadow = shadow
        self.loop = loop
        self.metrics = metrics
        self.run_loop = run_loop
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def build(
        cls,
        settings: Settings,
        engine: Engine,
        registry: RegistryService,
        providers: ProviderClient,
        metrics: Metrics,
        on_change: Callable[[], object],
        prepare: PrepareChat,
        clock: Callable[[], datetime] = utcnow,
    ) -> RolloutRuntime:
        service = RolloutService(engine, registry, metrics, on_change=on_change, clock=clock)
        shadow = ShadowRunner(
            providers,
            engine,
            metrics,
            prepare=prepare,
            max_pending=settings.rollout_shadow_max_pending,
            keep_text=settings.rollout_shadow_keep_text,
        )
        loop = AnalysisLoop(
            service,
            interval_s=settings.rollout_analysis_interval_s,
            lease_ttl_s=settings.rollout_lease_ttl_s,
            clock=clock,
        )
        return cls(service, shadow, loop, metrics, run_loop=settings.rollout_analysis)

    def count(self, request: FinishedRequest) -> None:
        """Count a finished request of a rollout's arm (the analysis reads the records)."""
        rollout, arm = request.rollout, request.arm
        if rollout is None or arm is None or request.status == CLIENT_GONE:
            return
        where = (rollout.environment, rollout.alias)
        outcome = arm_outcome(request)
        m = self.metrics
        m.rollout_requests.labels(*where, arm, outcome).inc()
        m.rollout_latency.labels(*where, arm).observe(request.elapsed_ms() / 1000)
        m.rollout_weight.labels(*where).set(rollout.weight)
        usage: dict[str, Any] = request.usage or {}
        for kind in ("prompt", "completion"):
            tokens = usage.get(f"{kind}_tokens")
            if isinstance(tokens, int) and tokens > 0:
                m.rollout_tokens.labels(*where, arm, kind).inc(tokens)

    def start(self) -> None:
        self.shadow.start()
        if self.run_loop:
            self._task = asyncio.create_task(self.loop.run(), name="pinyard-rollout-analysis")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
            with contextlib.suppress(SQLAlchemyError):
                await asyncio.to_thread(self.loop.release)  # let another replica take over now
        await self.shadow.close()
