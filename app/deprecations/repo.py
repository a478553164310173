"""Every query the deprecation radar and its alerts make."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.registry.deprecation_tables import DeprecationAlertRow
from app.registry.tables import AliasRow, BundleRow, RequestRecordRow, RolloutRow


class DeprecationRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # -- blast radius --------------------------------------------------------------

    def live_aliases(self) -> list[tuple[AliasRow, BundleRow]]:
        """Every alias of every environment with the bundle it points at."""
        rows = self.session.exec(
            select(AliasRow, BundleRow)
            .join(BundleRow, col(BundleRow.digest) == col(AliasRow.bundle_digest))
            .order_by(col(AliasRow.environment), col(AliasRow.name))
        )
        return [(alias, bundle) for alias, bundle in rows]

    def rollout_candidates(self) -> list[tuple[RolloutRow, BundleRow]]:
        """Running rollouts with their candidate bundle (the next thing to go live)."""
        rows = self.session.exec(
            select(RolloutRow, BundleRow)
            .join(BundleRow, col(BundleRow.digest) == col(RolloutRow.candidate_digest))
            .where(col(RolloutRow.active_key).is_not(None))
            .order_by(col(RolloutRow.environment), col(RolloutRow.alias))
        )
        return [(rollout, bundle) for rollout, bundle in rows]

    def requests_by_alias(self, since: datetime) -> dict[tuple[str, str, str], int]:
        """Requests since ``since`` per (environment, alias, bundle digest)."""
        rows = self.session.exec(
            select(
                RequestRecordRow.environment,
                RequestRecordRow.alias,
                RequestRecordRow.bundle_digest,
                func.count(),
            )
            .where(
                col(RequestRecordRow.created_at) >= since,
                col(RequestRecordRow.alias).is_not(None),
                col(RequestRecordRow.bundle_digest).is_not(None),
            )
            .group_by(
                col(RequestRecordRow.environment),
                col(RequestRecordRow.alias),
                col(RequestRecordRow.bundle_digest),
            )
        )
        return {(env, alias or "", digest or ""): count for env, alias, digest, count in rows}

    def requests_by_model(self, since: datetime) -> dict[str, int]:
        """Requests since ``since`` per provider model (aliases, pinned refs and fallbacks)."""
        rows = self.session.exec(
            select(RequestRecordRow.provider_model, func.count())
            .where(
                col(RequestRecordRow.created_at) >= since,
                col(RequestRecordRow.provider_model).is_not(None),
            )
            .group_by(col(RequestRecordRow.provider_model))
        )
        return {model or "": count for model, count in rows}

    # -- once-per-threshold alerts ---------------------------------------------------

    def thresholds_recorded(self, environment: str, alias: str, model: str) -> set[int]:
        rows = self.session.exec(
            select(DeprecationAlertRow.threshold_days).where(
                DeprecationAlertRow.environment == environment,
                DeprecationAlertRow.alias == alias,
                DeprecationAlertRow.model == model,
            )
        )
        return set(rows)

    def add_alerts(self, rows: list[DeprecationAlertRow]) -> None:
        """Claim thresholds; a concurrent claim by another replica raises IntegrityError."""
        self.session.add_all(rows)
        self.session.flush()

    def undelivered(self, limit: int = 100) -> list[DeprecationAlertRow]:
        return list(
            self.session.exec(
                select(DeprecationAlertRow)
                .where(
                    DeprecationAlertRow.status == "fired",
                    col(DeprecationAlertRow.delivered_at).is_(None),
                )
                .order_by(col(DeprecationAlertRow.fired_at))
                .limit(limit)
            )
        )

    def get_alert(self, key: tuple[str, str, str, int]) -> DeprecationAlertRow | None:
        return self.session.get(DeprecationAlertRow, key)
