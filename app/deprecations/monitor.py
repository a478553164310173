"""The periodic deprecation check: reload the catalog, announce crossed thresholds.

Started by the lifespan (every ``PINYARD_DEPRECATION_CHECK_INTERVAL_S``). Each
tick re-reads the overrides file if it changed (and rebuilds the snapshot so
response headers follow), then, for every live alias whose model retires,
claims the thresholds (90, 30, 7, 0 days) it has crossed. The claim is a row
in ``deprecation_alerts``: whoever inserts it (one replica, once, across
restarts) logs the event and sends it to the webhook. When several thresholds
are crossed at once only the most urgent is announced. At start, every live
alias inside the warning window is logged once more, so a deploy's log says it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import TYPE_CHECKING, Any, Protocol

import orjson
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from app.deprecations.catalog import CatalogEntry
from app.deprecations.live_catalog import Deprecations, retirement
from app.deprecations.repo import DeprecationRepository
from app.deprecations.webhook import AlertWebhook
from app.registry.db import read_session, write_session
from app.registry.deprecation_tables import DeprecationAlertRow
from app.registry.tables import AliasRow, BundleRow

if TYPE_CHECKING:
    from app.settings import Settings

log = logging.getLogger("pinyard.deprecations")

THRESHOLDS = (90, 30, 7, 0)


class Refreshable(Protocol):
    def refresh(self, *, force: bool = False) -> object: ...


def idempotency_key(environment: str, alias: str, model: str, threshold: int) -> str:
    raw = f"{environment}\n{alias}\n{model}\n{threshold}".encode()
    return "pinyard-deprecation-" + hashlib.sha256(raw).hexdigest()[:40]


class DeprecationMonitor:
    def __init__(
        self,
        deprecations: Deprecations,
        engine: Engine,
        snapshots: Refreshable,
        webhook: AlertWebhook | None = None,
    ) -> None:
        self.deprecations = deprecations
        self.engine = engine
        self.snapshots = snapshots
        self.webhook = webhook
        self.ticks = 0

    @classmethod
    def from_settings(
        cls, settings: Settings, deprecations: Deprecations, engine: Engine, snapshots: Refreshable
    ) -> DeprecationMonitor:
        url = settings.alert_webhook_url
        webhook = (
            AlertWebhook(
                url.get_secret_value(),
                max_attempts=settings.alert_webhook_max_attempts,
                backoff_s=settings.alert_webhook_backoff_s,
                timeout_s=settings.alert_webhook_timeout_s,
            )
            if url is not None
            else None
        )
        return cls(deprecations, engine, snapshots, webhook)

    async def run(self, interval_s: float) -> None:
        """Check now, then every ``interval_s`` (sooner after a database failure)."""
        at_start = True
        while True:
            pause = interval_s
            try:
                await self.tick(at_start=at_start)
                at_start = False
            except SQLAlchemyError as exc:
                log.warning("deprecation check failed, retrying: %s", exc)
                pause = min(interval_s, 60.0)
            self.ticks += 1
            await asyncio.sleep(pause)

    async def tick(self, *, at_start: bool = False) -> list[dict[str, Any]]:
        """One check; returns the events announced by this replica."""
        if await asyncio.to_thread(self.deprecations.reload_if_changed):
            await asyncio.to_thread(self.snapshots.refresh, force=True)
        live = await asyncio.to_thread(self._live)
        if at_start:
            self._log_at_start(live)
        events = await asyncio.to_thread(self._claim_all, live)
        for event in events:
            log.warning(
                "deprecation: %s/%s crossed the %d-day threshold: %s",
                event["environment"],
                event["alias"],
                event["threshold_days"],
                event["message"],
            )
        if self.webhook is not None:
            await self.deliver()
        return events

    def _live(self) -> list[tuple[AliasRow, BundleRow, CatalogEntry, int]]:
        with read_session(self.engine) as session:
            pairs = DeprecationRepository(session).live_aliases()
        found = []
        for alias, bundle in pairs:
            retiring = self.deprecations.retiring(bundle.model)
            if retiring is not None:
                found.append((alias, bundle, *retiring))
        return found

    def _log_at_start(self, live: list[tuple[AliasRow, BundleRow, CatalogEntry, int]]) -> None:
        window = self.deprecations.warning_days
        for alias, bundle, entry, days in live:
            if days <= window:
                log.warning(
                    "deprecation: %s/%s: %s",
                    alias.environment,
                    alias.name,
                    retirement(entry, days, pinned_by=f"{bundle.name}@{bundle.version}"),
                )

    def _claim_all(
        self, live: list[tuple[AliasRow, BundleRow, CatalogEntry, int]]
    ) -> list[dict[str, Any]]:
        events = []
        for alias, bundle, entry, days in live:
            event = self._claim(alias, bundle, entry, days)
            if event is not None:
                events.append(event)
        return events

    def _claim(
        self, alias: AliasRow, bundle: BundleRow, entry: CatalogEntry, days: int
    ) -> dict[str, Any] | None:
        crossed = [t for t in THRESHOLDS if days <= t]
        if not crossed or entry.shutdown_date is None:
            return None
        env, name, model = alias.environment, alias.name, entry.model
        urgent = min(crossed)
        now = self.deprecations.clock()
        event = {
            "type": "pinyard.deprecation.threshold",
            "threshold_days": urgent,
            "days_left": days,
            "environment": env,
            "alias": name,
            "model": model,
            "bundle": {"name": bundle.name, "version": bundle.version, "digest": bundle.digest},
            "allow_floating": bool(orjson.loads(bundle.spec).get("allow_floating", False)),
            **{k: v for k, v in entry.as_dict().items() if k != "model"},
            "message": retirement(entry, days),
            "fired_at": now.isoformat(),
            "idempotency_key": idempotency_key(env, name, model, urgent),
        }
        try:
            with write_session(self.engine, registry_lock=False) as session:
                repo = DeprecationRepository(session)
                new = [t for t in crossed if t not in repo.thresholds_recorded(env, name, model)]
                if not new:
                    return None
                repo.add_alerts(
                    [
                        DeprecationAlertRow(
                            environment=env,
                            alias=name,
                            model=model,
                            threshold_days=t,
                            status="fired" if t == urgent else "superseded",
                            days_left=days,
                            shutdown_date=entry.shutdown_date,
                            fired_at=now,
                            idempotency_key=idempotency_key(env, name, model, t),
                            event=orjson.dumps(event).decode(),
                        )
                        for t in new
                    ]
                )
        except IntegrityError:
            return None  # another replica claimed it first
        return event if urgent in new else None

    async def deliver(self) -> int:
        """Send every announced, undelivered event; the number delivered."""
        assert self.webhook is not None
        pending = await asyncio.to_thread(self._undelivered)
        delivered = 0
        for row in pending:
            result = await self.webhook.send(orjson.loads(row.event), row.idempotency_key)
            await asyncio.to_thread(
                self._record_delivery, row, result.ok, result.attempts, result.error
            )
            if result.ok:
                delivered += 1
            else:
                log.error(
                    "deprecation webhook: event %s not delivered: %s (retried next check)",
                    row.idempotency_key,
                    result.error,
                )
        return delivered

    def _undelivered(self) -> list[DeprecationAlertRow]:
        with read_session(self.engine) as session:
            return DeprecationRepository(session).undelivered()

    def _record_delivery(
        self, row: DeprecationAlertRow, ok: bool, attempts: int, error: str | None
    ) -> None:
        key = (row.environment, row.alias, row.model, row.threshold_days)
        with write_session(self.engine, registry_lock=False) as session:
            stored = DeprecationRepository(session).get_alert(key)
            if stored is None or stored.delivered_at is not None:
                return
            stored.delivery_attempts += attempts
            stored.last_error = error
            if ok:
                stored.delivered_at = self.deprecations.clock()
            session.add(stored)
