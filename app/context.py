"""What a running gateway holds, built once by the lifespan and reached through DI."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from sqlalchemy import Engine

from app.providers.client import ProviderClient
from app.registry.service import RegistryService
from app.registry.snapshot import SnapshotStore
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


def get_context(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx
