"""The deprecation catalog: provider model ID -> when it is deprecated and shut down.

Seeded from litellm's packaged model map (whose ``deprecation_date`` is the
shutdown date; coverage is partial), then merged with the operator's overrides
file, field by field, overrides winning. A ``Catalog`` is immutable and swapped
whole on reload, so readers never see half of one.

Model IDs are kept in the litellm form bundles use (``openai/gpt-4o-2024-11-20``).
litellm keys some providers' models bare (``gpt-4o-2024-11-20``); those get the
provider prefix, and the bare key still finds them.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from types import MappingProxyType
from typing import Any

from app.deprecations.headers import deprecation_headers

log = logging.getLogger("pinyard.deprecations")

# A URL that is safe to put between <> in a Link header.
SAFE_URL = re.compile(r"^https?://[^\s<>\"]+$")
# Where providers announce retirements. litellm's ``source`` is usually a
# pricing page, so for these providers the Link header points here instead.
RETIREMENT_PAGES = MappingProxyType(
    {
        "openai": "https://platform.openai.com/docs/deprecations",
        "anthropic": "https://docs.anthropic.com/en/docs/about-claude/model-deprecations",
        "azure": "https://learn.microsoft.com/azure/ai-services/openai/concepts/model-retirements",
        "bedrock": "https://docs.aws.amazon.com/bedrock/latest/userguide/model-lifecycle.html",
        "gemini": "https://ai.google.dev/gemini-api/docs/deprecations",
        "vertex_ai": "https://cloud.google.com/vertex-ai/generative-ai/docs/learn/model-versions",
    }
)
EMPTY_HEADERS: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    model: str
    deprecation_date: date | None = None
    shutdown_date: date | None = None
    replacement: str | None = None
    source: str | None = None
    note: str | None = None
    moving_pointer: bool = False
    origin: str = "litellm"  # "litellm", "overrides" or "litellm+overrides"

    @property
    def provider(self) -> str:
        return self.model.partition("/")[0] if "/" in self.model else ""

    @property
    def retiring(self) -> bool:
        return self.shutdown_date is not None

    @property
    def deprecated_on(self) -> date | None:
        """When it counts as deprecated: its own date, else (at the latest) its shutdown."""
        return self.deprecation_date or self.shutdown_date

    def days_left(self, now: datetime) -> int | None:
        """Whole days until shutdown (00:00 UTC of the shutdown date); <= 0 means shut down."""
        if self.shutdown_date is None:
            return None
        return (self.shutdown_date - now.astimezone(UTC).date()).days

    def as_dict(self, now: datetime | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {
            "model": self.model,
            "provider": self.provider,
            "deprecation_date": _iso(self.deprecation_date),
            "shutdown_date": _iso(self.shutdown_date),
            "replacement": self.replacement,
            "source": self.source,
            "note": self.note,
            "moving_pointer": self.moving_pointer,
            "origin": self.origin,
        }
        if now is not None:
            data["days_left"] = self.days_left(now)
        return data


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def provider_prefix(litellm_provider: str) -> str:
    """The prefix a bundle writes for a litellm provider (``bedrock_converse`` -> ``bedrock``)."""
    for family in ("vertex_ai", "bedrock"):
        if litellm_provider.startswith(family):
            return family
    return litellm_provider


class Catalog:
    """Immutable after construction; response headers are pre-serialised per entry."""

    def __init__(self, entries: Iterable[CatalogEntry], aliases: Mapping[str, str]) -> None:
        self._entries = {entry.model: entry for entry in entries}
        # Bare litellm keys -> canonical ID, for bundles that write the bare name.
        self._aliases = dict(aliases)
        self._headers = {
            model: deprecation_headers(entry.deprecated_on, entry.shutdown_date, entry.source)
            for model, entry in self._entries.items()
        }
        pointers = {e.model for e in self._entries.values() if e.moving_pointer}
        pointers |= {bare for bare, model in self._aliases.items() if model in pointers}
        self.moving_pointers: frozenset[str] = frozenset(pointers)

    def __len__(self) -> int:
        return len(self._entries)

    def canonical(self, model: str) -> str:
        return self._aliases.get(model, model) if model not in self._entries else model

    def get(self, model: str) -> CatalogEntry | None:
        return self._entries.get(self.canonical(model))

    def headers_for(self, model: str) -> tuple[tuple[str, str], ...]:
        return self._headers.get(self.canonical(model), EMPTY_HEADERS)

    def entries(self, provider: str | None = None) -> list[CatalogEntry]:
        """Entries, soonest shutdown first (undated last), optionally of one provider."""
        found = [e for e in self._entries.values() if provider in (None, e.provider)]
        return sorted(found, key=lambda e: (e.shutdown_date or date.max, e.model))


@dataclass(frozen=True, slots=True)
class LitellmSeed:
    """What litellm's map contributes: every model ID it knows, and the dated ones."""

    known: frozenset[str]
    aliases: Mapping[str, str]
    entries: Mapping[str, CatalogEntry]  # by canonical ID: the models with a shutdown date

    def canonical(self, model: str) -> str | None:
        """The catalog ID of a model litellm knows, or None when it does not know it."""
        if model in self.known:
            return model
        return self.aliases.get(model)


def seed_from_model_map(model_map: Mapping[str, Mapping[str, Any]]) -> LitellmSeed:
    known: set[str] = set()
    aliases: dict[str, str] = {}
    entries: dict[str, CatalogEntry] = {}
    skipped = 0
    for key in sorted(model_map):
        info = model_map[key]
        provider = str(info.get("litellm_provider") or "")
        canonical = key if "/" in key or not provider else f"{provider_prefix(provider)}/{key}"
        known.add(canonical)
        if canonical != key:
            aliases.setdefault(key, canonical)
        raw = info.get("deprecation_date")
        if not raw:
            continue
        try:
            shutdown = date.fromisoformat(str(raw))
        except ValueError:
            skipped += 1
            continue
        source = RETIREMENT_PAGES.get(canonical.partition("/")[0], info.get("source"))
        entries.setdefault(
            canonical,
            CatalogEntry(
                model=canonical,
                shutdown_date=shutdown,
                source=source if isinstance(source, str) and SAFE_URL.match(source) else None,
            ),
        )
    if skipped:
        log.warning("litellm's model map: %d unparseable deprecation dates ignored", skipped)
    return LitellmSeed(frozenset(known), aliases, entries)


def merge(seed: LitellmSeed, overrides: Iterable[tuple[str, dict[str, Any]]]) -> Catalog:
    """Apply overrides (canonical ID, fields given) over the seed: given fields win."""
    entries = dict(seed.entries)
    for model, fields in overrides:
        base = entries.get(model)
        if base is None:
            entries[model] = CatalogEntry(model=model, origin="overrides", **fields)
        else:
            entries[model] = dataclasses.replace(base, origin="litellm+overrides", **fields)
    return Catalog(entries.values(), seed.aliases)
