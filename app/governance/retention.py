"""The retention job: request records older than the retention are deleted, in batches.

Audit events are never touched (the table refuses it anyway); each prune that
deletes anything is itself an audit event, so the evidence trail says when
records went and why.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from app.registry.audit import AuditRepository
from app.registry.db import write_session
from app.registry.retention_repo import RetentionRepository
from app.registry.tables import utcnow

log = logging.getLogger("pinyard.retention")

BATCH = 1000
ACTOR = "system:retention"


class RetentionJob:
    def __init__(self, engine: Engine, days: float) -> None:
        self.engine = engine
        self.days = days  # 0: keep records forever

    def prune_once(self) -> int:
        """Delete every record past the retention; how many went."""
        if self.days <= 0:
            return 0
        cutoff = utcnow() - timedelta(days=self.days)
        deleted = 0
        while True:
            # Short transactions, without the registry lock: nothing here is registry state.
            with write_session(self.engine, registry_lock=False) as session:
                count = RetentionRepository(session).prune_records(cutoff, BATCH)
            deleted += count
            if count < BATCH:
                break
        if deleted:
            with write_session(self.engine) as session:
                AuditRepository(session).append(
                    actor=ACTOR,
                    action="records.prune",
                    target="request_records",
                    reason=f"retention: request records older than {self.days:g} days",
                    after={"deleted": deleted, "before": cutoff.isoformat()},
                )
            log.info("pruned %d request records older than %s", deleted, cutoff.isoformat())
        return deleted

    async def run(self, interval_s: float) -> None:
        while True:
            try:
                await asyncio.to_thread(self.prune_once)
            except SQLAlchemyError as exc:
                log.warning("request-record retention failed this round: %s", exc)
            await asyncio.sleep(interval_s)
