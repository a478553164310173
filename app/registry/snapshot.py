"""The in-memory view of aliases and bundles that the request path reads.

A ``Snapshot`` is immutable and swapped whole, so a request sees one consistent
registry revision without a lock and without touching the database. Compiled
bundles are cached by digest: content never changes under a digest. If the
database is unreachable the last snapshot keeps serving.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass, field

import orjson
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from app.bundles.compiled import CompiledBundle, compile_bundle
from app.bundles.spec import BundleSpec, parse_ref
from app.registry.alias_repo import AliasRepository, StateRepository
from app.registry.bundle_repo import BundleRepository
from app.registry.db import read_session
from app.registry.tables import as_utc

log = logging.getLogger("pinyard.snapshot")


@dataclass(frozen=True, slots=True)
class ServedBundle:
    compiled: CompiledBundle
    version: int
    created: int  # registration time, unix seconds

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
class Snapshot:
    revision: int = -1
    aliases: dict[tuple[str, str], ServedBundle] = field(default_factory=dict)
    by_digest: dict[str, ServedBundle] = field(default_factory=dict)
    by_version: dict[tuple[str, int], ServedBundle] = field(default_factory=dict)

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


class SnapshotStore:
    """Holds the current snapshot; rebuilds it when the registry revision moves."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.current = Snapshot()
        self.last_error: str | None = None
        self._compiled: dict[str, CompiledBundle] = {}
        self._lock = threading.Lock()

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
                self._compiled[digest] = compile_bundle(spec, enforce_pinning=False)
            by_digest = {
                digest: ServedBundle(self._compiled[digest], version, int(as_utc(at).timestamp()))
                for _, version, digest, at in index
            }
            by_version = {(name, version): by_digest[digest] for name, version, digest, _ in index}
            aliases = {
                (row.environment, row.name): by_digest[row.bundle_digest]
                for row in AliasRepository(session).find()
            }
        self.current = Snapshot(revision, aliases, by_digest, by_version)
        self.last_error = None
        return self.current

    async def watch(self, interval_s: float) -> None:
        """Poll the revision; the safety net that makes every replica converge."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                await asyncio.to_thread(self.refresh)
            except SQLAlchemyError as exc:
                self.last_error = f"database unreachable: {type(exc).__name__}"
                log.warning(
                    "snapshot refresh failed, serving revision %s: %s", self.current.revision, exc
                )
