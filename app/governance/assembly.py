"""Governance, assembled: credentials, approvals, rate limits, refusals, retention, evidence.

``Governance.build`` wires it into the registry (alias sets divert to pending
changes where policy requires approval); ``background`` lists the loops the
lifespan runs; ``close`` writes what is still buffered.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine

from app.governance.alias_changes import ALIAS_SET, AliasGovernance
from app.governance.alias_evidence import EvidenceService
from app.governance.caller import CallerAuth
from app.governance.changes import ChangeService
from app.governance.credentials import CredentialService
from app.governance.denials import DenialRecorder
from app.governance.ratelimit import RateLimiter
from app.governance.ratelimit_stores import STORE_ERRORS, make_store
from app.governance.retention import RetentionJob
from app.registry.writes import RegistryService
from app.settings import Settings


@dataclass(slots=True)
class Governance:
    settings: Settings
    credentials: CredentialService
    changes: ChangeService
    aliases: AliasGovernance
    callers: CallerAuth
    limiter: RateLimiter
    denials: DenialRecorder
    retention: RetentionJob
    evidence: EvidenceService

    @classmethod
    def build(
        cls,
        settings: Settings,
        engine: Engine,
        registry: RegistryService,
        on_change: Callable[[], object],
    ) -> Governance:
        denials = DenialRecorder(engine)
        limiter = RateLimiter(make_store(settings.redis_url, engine))
        changes = ChangeService(
            engine,
            ttl=timedelta(hours=settings.change_ttl_hours),
            on_change=on_change,
            denials=denials,
        )
        aliases = AliasGovernance(registry, changes, denials)
        changes.register(ALIAS_SET, aliases.apply)
        registry.approvals = aliases
        return cls(
            settings=settings,
            credentials=CredentialService(engine, settings.environments, on_change),
            changes=changes,
            aliases=aliases,
            callers=CallerAuth(settings.environments, settings.environment, limiter, denials),
            limiter=limiter,
            denials=denials,
            retention=RetentionJob(engine, settings.record_retention_days),
            evidence=EvidenceService(engine, registry),
        )

    def background(self) -> dict[str, Coroutine[Any, Any, None]]:
        """The loops to run for the gateway's lifetime, by task name."""
        settings = self.settings
        return {
            "pinyard-denials": self.denials.run(settings.denial_flush_interval_s),
            "pinyard-rate-limit-sync": self.limiter.run(
                settings.rate_limit_sync_interval_s, STORE_ERRORS
            ),
            "pinyard-retention": self.retention.run(settings.retention_interval_s),
        }

    async def close(self) -> None:
        await self.denials.flush()
        await self.limiter.close()
