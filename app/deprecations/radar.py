"""The radar: which retiring models are live, where, how busy, and for how long.

Read from the database (not the snapshot) so the admin API and CI see the
registry's truth. Blast radius is per alias: the live ones, and the candidates
of running rollouts (about to go live). Request volume is counted from request
records over the last 24 hours.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson
from sqlalchemy import Engine

from app.deprecations.live_catalog import Deprecations, retirement
from app.deprecations.repo import DeprecationRepository
from app.registry.db import read_session
from app.registry.snapshot import SnapshotStore

SCOPE = {
    "live_aliases": True,
    "rollouts": True,
    "note": "live aliases, and the candidates of running rollouts",
}


def build_radar(engine: Engine, deprecations: Deprecations, within: int | None) -> dict[str, Any]:
    """Retiring models in use (within ``within`` days when given), soonest first."""
    now = deprecations.clock()
    since = now - timedelta(hours=24)
    with read_session(engine) as session:
        repo = DeprecationRepository(session)
        uses = [("live", a.environment, a.name, b) for a, b in repo.live_aliases()]
        uses += [("rollout", r.environment, r.alias, b) for r, b in repo.rollout_candidates()]
        by_alias = repo.requests_by_alias(since)
        by_model = repo.requests_by_model(since)
    models: dict[str, dict[str, Any]] = {}
    spellings: dict[str, set[str]] = {}
    for where, environment, alias, bundle in uses:
        found = deprecations.retiring(bundle.model)
        if found is None:
            continue
        entry, days = found
        if within is not None and days > within:
            continue
        item = models.setdefault(
            entry.model,
            {**entry.as_dict(now), "summary": retirement(entry, days), "usages": []},
        )
        spellings.setdefault(entry.model, set()).add(bundle.model)
        spec = orjson.loads(bundle.spec)
        item["usages"].append(
            {
                "where": where,
                "environment": environment,
                "alias": alias,
                "bundle": {"name": bundle.name, "version": bundle.version, "digest": bundle.digest},
                "allow_floating": bool(spec.get("allow_floating", False)),
                "requests_24h": by_alias.get((environment, alias, bundle.digest), 0),
            }
        )
    for model, item in models.items():
        item["requests_24h"] = sum(by_model.get(spelling, 0) for spelling in spellings[model])
    data = sorted(models.values(), key=lambda item: (item["days_left"], item["model"]))
    return {
        "generated_at": now.isoformat(),
        "within_days": within,
        "scope": SCOPE,
        "catalog": deprecations.status(),
        "live_aliases_affected": _count(data, "live"),
        "rollouts_affected": _count(data, "rollout"),
        "data": data,
    }


def _count(data: list[dict[str, Any]], where: str) -> int:
    return sum(1 for item in data for usage in item["usages"] if usage["where"] == where)


def shutdown_gauge_rows(
    deprecations: Deprecations, snapshots: SnapshotStore
) -> list[tuple[str, str, str, float]]:
    """(environment, alias, model, days until shutdown) of live aliases, for the gauge."""
    rows: list[tuple[str, str, str, float]] = []
    for (environment, alias), bundle in snapshots.current.aliases.items():
        model = bundle.compiled.spec.model
        found = deprecations.retiring(model)
        if found is not None:
            rows.append((environment, alias, model, float(found[1])))
    return rows
