"""``Deprecations``: the live catalog, the clock, and what they mean for one bundle.

One object per gateway: registration asks it for warnings (and refuses a model
already shut down unless forced), the promotion gate and the radar ask it how
many days a model has left, and the snapshot asks it for pre-serialised
response headers. The clock is injected so every window is testable.

The catalog is rebuilt when the overrides file changes (checked by the
periodic monitor); a reload that fails keeps the last good catalog and says
why in ``last_error``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from app.bundles.spec import BundleSpec
from app.deprecations.catalog import (
    Catalog,
    CatalogEntry,
    LitellmSeed,
    merge,
    seed_from_model_map,
)
from app.deprecations.overrides import CatalogError, load_overrides
from app.errors import BadRequestError, ConflictError
from app.providers.model_map import packaged_model_map

if TYPE_CHECKING:
    from app.settings import Settings

log = logging.getLogger("pinyard.deprecations")

Clock = Callable[[], datetime]
FLOATING_NOTE = " [the bundle sets allow_floating: true]"


def utc_now() -> datetime:
    return datetime.now(UTC)


class ModelRetired(ConflictError):
    """Registering a bundle whose pinned model the provider has already shut down."""

    code = "model_retired"


@dataclass(frozen=True, slots=True)
class Review:
    """What registration should say about a bundle's model."""

    warnings: list[str] = field(default_factory=list)
    forced: str | None = None  # the refusal a forced registration overrode (audited)


def retirement(entry: CatalogEntry, days: int, *, pinned_by: str | None = None) -> str:
    """One sentence: what, when, how long, and what to move to."""
    when = (
        f"was shut down on {entry.shutdown_date}"
        if days <= 0
        else f"shuts down on {entry.shutdown_date} ({days} day{'s' if days != 1 else ''} left)"
    )
    advice = f"; replacement: {entry.replacement}" if entry.replacement else ""
    subject = f"{pinned_by} pins {entry.model}, which" if pinned_by else entry.model
    return f"{subject} {when}{advice}"


class Deprecations:
    def __init__(
        self,
        seed: LitellmSeed,
        *,
        overrides_file: Path | None = None,
        warning_days: int = 90,
        clock: Clock = utc_now,
    ) -> None:
        self.seed = seed
        self.overrides_file = overrides_file
        self.warning_days = warning_days
        self.clock = clock
        self._stamp = self._file_stamp()
        self.catalog: Catalog = self._build()  # a broken file fails start-up
        self.loaded_at = clock()
        self.last_error: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings, *, clock: Clock = utc_now) -> Deprecations:
        return cls(
            seed_from_model_map(packaged_model_map()),
            overrides_file=settings.deprecations_file,
            warning_days=settings.deprecation_warning_days,
            clock=clock,
        )

    # -- catalog ---------------------------------------------------------------

    def _build(self) -> Catalog:
        path = self.overrides_file
        overrides = load_overrides(path, self.seed) if path is not None else []
        return merge(self.seed, overrides)

    def _file_stamp(self) -> tuple[int, int] | None:
        if self.overrides_file is None:
            return None
        try:
            stat = self.overrides_file.stat()
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size

    def reload_if_changed(self) -> bool:
        """Re-read the overrides file if it changed; True when a new catalog is live."""
        if self.overrides_file is None:
            return False
        stamp = self._file_stamp()
        if stamp == self._stamp:
            return False
        self._stamp = stamp  # a broken file is reported once, not on every check
        try:
            catalog = self._build()
        except CatalogError as exc:
            self.last_error = str(exc)
            log.error("deprecations file not reloaded, keeping the last good catalog: %s", exc)
            return False
        self.catalog, self.loaded_at, self.last_error = catalog, self.clock(), None
        log.info("deprecations file %s reloaded (%d entries)", self.overrides_file, len(catalog))
        return True

    def status(self) -> dict[str, object]:
        return {
            "entries": len(self.catalog),
            "overrides_file": str(self.overrides_file) if self.overrides_file else None,
            "loaded_at": self.loaded_at.isoformat(),
            "last_error": self.last_error,
            "warning_days": self.warning_days,
        }

    # -- what the snapshot reads (app.registry.snapshot.DeprecationHeaders) ------

    def headers_for(self, model: str) -> tuple[tuple[str, str], ...]:
        return self.catalog.headers_for(model)

    @property
    def known_pointers(self) -> frozenset[str]:
        return self.catalog.moving_pointers

    # -- judgements --------------------------------------------------------------

    def retiring(self, model: str) -> tuple[CatalogEntry, int] | None:
        """The entry and days left when ``model`` has a known shutdown date."""
        entry = self.catalog.get(model)
        if entry is None or entry.shutdown_date is None:
            return None
        days = entry.days_left(self.clock())
        assert days is not None
        return entry, days

    def review(
        self, spec: BundleSpec, floating: str | None, *, force: bool, reason: str | None
    ) -> Review:
        """Warnings for registering ``spec``; raises ``ModelRetired`` past its shutdown."""
        note = FLOATING_NOTE if spec.allow_floating else ""
        warnings: list[str] = []
        if floating and spec.allow_floating:
            warnings.append(
                f"model {spec.model} floats ({floating}); accepted because the bundle sets "
                "allow_floating: true, so the provider may change it under this digest"
            )
        found = self.retiring(spec.model)
        forced: str | None = None
        if found is not None:
            entry, days = found
            message = retirement(entry, days)
            if days <= 0:
                if not force:
                    raise ModelRetired(
                        f"refusing to register {spec.name}: {message}{note}. Pin a live model, "
                        "or force it with a reason (audited), e.g. to reproduce old outputs",
                        param="model",
                    )
                if not (reason and reason.strip()):
                    raise BadRequestError(
                        "a forced registration needs a reason (it is audited)", param="reason"
                    )
                forced = message
                warnings.append(f"{message}; registered anyway because it was forced{note}")
            elif days <= self.warning_days:
                warnings.append(
                    f"within the {self.warning_days}-day warning window: {message}{note}"
                )
        return Review(warnings, forced)
