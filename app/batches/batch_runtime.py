"""Batches, assembled: the service the routes call and the worker that runs lines."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from app.batches.endpoints import BatchEndpoints
from app.batches.service import BatchLimits, BatchService
from app.settings import Settings


@dataclass(slots=True)
class BatchRuntime:
    service: BatchService

    @classmethod
    def build(cls, settings: Settings, engine: Engine, endpoints: BatchEndpoints) -> BatchRuntime:
        limits = BatchLimits(settings.batch_max_file_bytes, settings.batch_max_requests)
        return cls(BatchService(engine, endpoints, limits))

    def wake(self) -> None:
        """A batch was created here: look for work now rather than at the next poll."""
