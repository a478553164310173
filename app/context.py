"""What a running gateway holds, built once by the lifespan and reached through DI."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx
from fastapi import Request
from sqlalchemy import Engine

from app.batches.batch_runtime import BatchRuntime
from app.deprecations.live_catalog import Deprecations
from app.deprecations.monitor import DeprecationMonitor
from app.governance.assembly import Governance
from app.outcomes.services import Outcomes
from app.providers.client import ProviderClient
from app.registry.compiled import PrepareChat
from app.registry.snapshot import SnapshotStore
from app.registry.writes import RegistryService
from app.rollouts.runtime import RolloutRuntime
from app.settings import Settings
from app.telemetry.metrics import Metrics
from app.telemetry.records import RecordWriter


@dataclass(slots=True)
class AppContext:
    settings: Settings
    engine: Engine
    registry: RegistryService
    snapshots: SnapshotStore
    providers: ProviderClient
    records: RecordWriter
    metrics: Metrics
    deprecations: Deprecations
    deprecation_monitor: DeprecationMonitor
    # Tokens, keys, approvals, rate limits, refusals, retention, evidence.
    governance: Governance
    # Rollouts: the service, the shadow runner and the analysis loop.
    rollouts: RolloutRuntime
    # Feedback metrics and feedback on answers.
    outcomes: Outcomes
    # The gateway's request preparation, injected by ``app.main`` into the rooms
    # below it that replay requests (shadow traffic, run-on-promotion evals).
    prepare_chat: PrepareChat
    # Shared by every bundle's http retriever (per-call timeouts come from the bundle).
    retrieval_http: httpx.AsyncClient = field(default_factory=httpx.AsyncClient, kw_only=True)
    # Files and batches; built after the context, since its lines run through the
    # gateway's pipelines, which take the context (``app.main`` sets it).
    batches: BatchRuntime = field(init=False)


async def get_context(request: Request) -> AppContext:
    """Async on purpose: FastAPI runs a sync dependency in a worker thread (~150 µs a request)."""
    ctx: AppContext = request.app.state.ctx
    return ctx
