"""The in-memory view of aliases and bundles that the request path reads.

A ``Snapshot`` is immutable and swapped whole, so a request sees one consistent
registry revision without a lock and without touching the database. Compiled
bundles are cached by digest: content never changes under a digest. If the
database is unreachable the last snapshot keeps serving.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import orjson
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from app.bundles.rollout_spec import RolloutPlan, ShadowSettings
from app.bundles.spec import BundleSpec, parse_ref
from app.registry.alias_repo import AliasRepository, StateRepository
from app.registry.bundle_repo import BundleRepository
from app.registry.compiled import CompiledBundle, compile_bundle
from app.registry.credential_repo import KeySet, key_set
from app.registry.db import read_session
from app.registry.rollout_repo import RolloutRepository
from app.registry.tables import RolloutRow, as_utc

log = logging.getLogger("pinyard.snapshot")


@dataclass(frozen=True, slots=True)
class ServedBundle:
    compiled: CompiledBundle
    version: int
    created: int  # registration time, unix seconds
    # Deprecation/Sunset/Link for the pinned model, serialised once per bundle.
    deprecation_headers: tuple[tuple[str, str], ...] = ()

    @property
    def name(self) -> str:
        return self.compiled.spec.name

    @property
    def digest(self) -> str:
        return self.compiled.digest

    @property
    def label(self) -> str:
        return f"{self.name}@{self.version}"


@dataclass(frozen=True, slots=True)
class ActiveRollout:
    """A running rollout as the request path sees it (part of the registry snapshot)."""

    id: str
    environment: str
    alias: str
    baseline: ServedBundle
    candidate: ServedBundle
    step: int
    weight: float  # percent of subjects on the candidate
    paused: bool
    shadow: ShadowSettings | None  # set while in the shadow step

    @property
    def shadowing(self) -> bool:
        return self.shadow is not None and self.shadow.rate > 0


def active_rollout(
    row: RolloutRow, by_digest: dict[str, ServedBundle], alias_digest: str | None
) -> ActiveRollout | None:
    """The snapshot's view of a running row; None once the alias left the baseline."""
    baseline = by_digest.get(row.baseline_digest)
    candidate = by_digest.get(row.candidate_digest)
    if baseline is None or candidate is None or alias_digest != row.baseline_digest:
        return None
    plan = RolloutPlan.model_validate_json(row.plan)
    step = plan.step(min(row.step, plan.last))
    return ActiveRollout(
        id=row.id,
        environment=row.environment,
        alias=row.alias,
        baseline=baseline,
        candidate=candidate,
        step=row.step,
        weight=step.weight,
        paused=row.paused,
        shadow=plan.shadow if step.shadow else None,
    )


def _digest(bundle: ServedBundle | None) -> str | None:
    return bundle.digest if bundle is not None else None


@dataclass(frozen=True, slots=True)
class Snapshot:
    revision: int = -1
    aliases: dict[tuple[str, str], ServedBundle] = field(default_factory=dict)
    by_digest: dict[str, ServedBundle] = field(default_factory=dict)
    by_version: dict[tuple[str, int], ServedBundle] = field(default_factory=dict)
    # Client API keys by hash: the data plane authenticates without the database.
    keys: KeySet = field(default_factory=KeySet)
    # Running rollouts by (environment, alias): canary weight and shadow settings.
    rollouts: dict[tuple[str, str], ActiveRollout] = field(default_factory=dict)

    @property
    def loaded(self) -> bool:
        return self.revision >= 0

    def alias(self, environment: str, name: str) -> ServedBundle | None:
        return self.aliases.get((environment, name))

    def aliases_in(self, environment: str) -> list[tuple[str, ServedBundle]]:
        return sorted(
            (name, bundle) for (env, name), bundle in self.aliases.items() if env == environment
        )

    def ref(self, ref: str) -> ServedBundle | None:
        """Resolve ``name@N`` or ``name@sha256:...``; None when unknown or malformed."""
        try:
            name, selector = parse_ref(ref)
        except ValueError:
            return None
        if isinstance(selector, int):
            return self.by_version.get((name, selector))
        found = self.by_digest.get(selector)
        return found if found is not None and found.name == name else None


class DeprecationHeaders(Protocol):
    """What the snapshot needs from the deprecation catalog (app.deprecations)."""

    @property
    def known_pointers(self) -> frozenset[str]: ...

    def headers_for(self, model: str) -> tuple[tuple[str, str], ...]: ...


class SnapshotStore:
    """Holds the current snapshot; rebuilds it when the registry revision moves.

    ``watch`` rebuilds when woken by a change notification (``notice``) or, as a
    safety net, every poll interval. While the database is unreachable the last
    snapshot keeps serving and ``last_error`` says why (readiness reports it).
    """

    def __init__(self, engine: Engine, catalog: DeprecationHeaders | None = None) -> None:
        self.engine = engine
        self.catalog = catalog
        self.current = Snapshot()
        self.last_error: str | None = None
        self._compiled: dict[str, CompiledBundle] = {}
        self._lock = threading.Lock()
        self._wake = asyncio.Event()
        self._prepare: Callable[[], object] | None = None
        self._failing_since: float | None = None

    def refresh(self, *, force: bool = False) -> Snapshot:
        """Rebuild from the database if its revision moved. Thread-safe, synchronous."""
        with self._lock, read_session(self.engine) as session:
            revision = StateRepository(session).revision()
            if not force and revision == self.current.revision:
                return self.current
            bundles = BundleRepository(session)
            index = bundles.index()
            missing = [digest for _, _, digest, _ in index if digest not in self._compiled]
            for digest, spec_json in bundles.specs(missing).items():
                spec = BundleSpec.model_validate(orjson.loads(spec_json))
                # Stored bundles were judged at registration; serve them as stored.
                self._compiled[digest] = compile_bundle(
                    spec, enforce_pinning=False, known_pointers=self._pointers()
                )
            by_digest = {
                digest: ServedBundle(
                    self._compiled[digest],
                    version,
                    int(as_utc(at).timestamp()),
                    self._deprecation_headers(self._compiled[digest].spec.model),
                )
                for _, version, digest, at in index
            }
            by_version = {(name, version): by_digest[digest] for name, version, digest, _ in index}
            aliases = {
                (row.environment, row.name): by_digest[row.bundle_digest]
                for row in AliasRepository(session).find()
            }
            keys = key_set(session)
            rollouts = {
                (row.environment, row.alias): active
                for row in RolloutRepository(session).running()
                if (
                    active := active_rollout(
                        row, by_digest, _digest(aliases.get((row.environment, row.alias)))
                    )
                )
            }
        self.current = Snapshot(
            revision, aliases, by_digest, by_version, keys=keys, rollouts=rollouts
        )
        self.last_error = None
        return self.current

    def _pointers(self) -> frozenset[str]:
        return self.catalog.known_pointers if self.catalog else frozenset()

    def _deprecation_headers(self, model: str) -> tuple[tuple[str, str], ...]:
        return self.catalog.headers_for(model) if self.catalog else ()

    def after_write(self) -> None:
        """Refresh after a committed registry write made through this replica.

        The write has landed: if the database went away in between, the change
        is not reported as failed; the watcher's next poll picks it up.
        """
        try:
            self.refresh()
        except SQLAlchemyError as exc:
            log.warning("refresh after a registry write failed; the watcher will retry: %s", exc)

    def notice(self, revision: int | None) -> None:
        """A change notification: wake the watcher unless this revision is served already."""
        if revision is None or revision > self.current.revision:
            self._wake.set()

    async def load(self, prepare: Callable[[], object] | None = None) -> bool:
        """The first load at start: ``prepare`` (migrations), then a full refresh.

        Never raises: on failure it logs, readiness fails, and ``watch`` retries
        both steps until they succeed.
        """
        self._prepare = prepare
        return await self._step(force=True)

    async def watch(self, interval_s: float) -> None:
        """Refresh on every notification, and at least every ``interval_s``; forever."""
        while True:
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a
            # cancellation that races with the event, and shutdown would hang.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval_s):
                    await self._wake.wait()
            self._wake.clear()
            await self._step()

    async def _step(self, *, force: bool = False) -> bool:
        try:
            if self._prepare is not None:
                await asyncio.to_thread(self._prepare)
                self._prepare = None
            await asyncio.to_thread(self.refresh, force=force)
        except Exception as exc:  # noqa: BLE001 -- logged below; last-known-good keeps serving
            self._failed(exc)
            return False
        self.last_error = None
        if self._failing_since is not None:
            down = time.monotonic() - self._failing_since
            log.warning(
                "database reachable again after %.1f s; serving revision %s",
                down,
                self.current.revision,
            )
            self._failing_since = None
        return True

    def _failed(self, exc: Exception) -> None:
        unreachable = isinstance(exc, SQLAlchemyError)
        what = "database unavailable" if unreachable else "registry refresh failed"
        self.last_error = f"{what}: {type(exc).__name__}"
        if self._failing_since is not None:
            return  # said once per outage, not once per poll
        self._failing_since = time.monotonic()
        if not self.current.loaded:
            log.error(
                "%s at start, no registry snapshot loaded: not ready until it answers (%s)",
                what,
                exc,
                exc_info=not unreachable,
            )
        else:
            log.error(
                "%s: serving the last-known-good snapshot (revision %s) until it answers (%s)",
                what,
                self.current.revision,
                exc,
                exc_info=not unreachable,
            )
