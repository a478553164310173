"""The operator's overrides file (``PINYARD_DEPRECATIONS_FILE``): a YAML list of entries.

    - model: openai/gpt-4o-2024-11-20
      deprecation_date: 2026-07-14        # YYYY-MM-DD
      shutdown_date: 2027-01-14
      replacement: openai/gpt-5.4-2026-03-05
      source: https://platform.openai.com/docs/deprecations
      note: evaluated by the support team
      moving_pointer: false               # true: the ID moves; bundles must allow_floating

The fields an entry gives replace litellm's (``null`` clears one). An entry
for a model litellm does not know is accepted only when it names its provider
(``provider/model``) and says something actionable: a ``shutdown_date`` or
``moving_pointer: true``; anything else is most likely a typo. Every problem
names the file and the entry, and refuses the whole file.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from app.deprecations.catalog import SAFE_URL, LitellmSeed

FIELDS = frozenset(
    {
        "model",
        "deprecation_date",
        "shutdown_date",
        "replacement",
        "source",
        "note",
        "moving_pointer",
    }
)
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MODEL_ID = re.compile(r"^\S+$")


class CatalogError(ValueError):
    """The overrides file is unreadable or malformed (named, with the entry)."""


class _NoTimestampLoader(yaml.SafeLoader):
    """Dates stay strings, so an impossible one (2027-02-30) is reported with its entry."""


_NoTimestampLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_overrides(path: Path, seed: LitellmSeed) -> list[tuple[str, dict[str, Any]]]:
    """``[(canonical model ID, fields given)]`` in file order; raises ``CatalogError``."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogError(f"cannot read deprecations file {path}: {exc}") from exc
    try:
        document = yaml.load(text, Loader=_NoTimestampLoader)  # a SafeLoader
    except yaml.YAMLError as exc:
        raise CatalogError(f"{path}: malformed YAML: {exc}") from exc
    if document is None:
        return []
    if not isinstance(document, list):
        raise CatalogError(
            f"{path}: expected a YAML list of entries "
            "({model, deprecation_date, shutdown_date, replacement, source, note})"
        )
    found: list[tuple[str, dict[str, Any]]] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(document, start=1):
        model, fields = _entry(path, index, raw, seed)
        if model in seen:
            raise CatalogError(
                f"{path}: entry {index} ({model}) repeats entry {seen[model]} for the same model"
            )
        seen[model] = index
        found.append((model, fields))
    return found


def _entry(path: Path, index: int, raw: Any, seed: LitellmSeed) -> tuple[str, dict[str, Any]]:
    where = f"{path}: entry {index}"
    if not isinstance(raw, dict):
        raise CatalogError(f"{where}: must be a mapping with at least 'model'")
    model = raw.get("model")
    if not isinstance(model, str) or not _MODEL_ID.match(model):
        raise CatalogError(f"{where}: 'model' must be a provider model ID such as openai/gpt-4o")
    where = f"{where} ({model})"
    unknown = sorted(set(raw) - FIELDS)
    if unknown:
        raise CatalogError(f"{where}: unknown keys {unknown}; allowed: {', '.join(sorted(FIELDS))}")
    fields: dict[str, Any] = {}
    for key in ("deprecation_date", "shutdown_date"):
        if key in raw:
            fields[key] = _date(where, key, raw[key])
    for key in ("replacement", "note"):
        if key in raw:
            fields[key] = _text(where, key, raw[key])
    if "source" in raw:
        source = _text(where, "source", raw["source"])
        if source is not None and not SAFE_URL.match(source):
            raise CatalogError(f"{where}: source {source!r} must be an http(s) URL")
        fields["source"] = source
    if "moving_pointer" in raw:
        if not isinstance(raw["moving_pointer"], bool):
            raise CatalogError(f"{where}: moving_pointer must be true or false")
        fields["moving_pointer"] = raw["moving_pointer"]
    canonical = seed.canonical(model)
    if canonical is None:
        provider, _, name = model.partition("/")
        if not (
            provider and name and (fields.get("shutdown_date") or fields.get("moving_pointer"))
        ):
            raise CatalogError(
                f"{where}: litellm's model map does not know this model; an entry for a new "
                "model must name its provider (provider/model) and give a shutdown_date or "
                "moving_pointer: true (check the spelling)"
            )
        canonical = model
    base = seed.entries.get(canonical)
    deprecated = fields.get("deprecation_date", base.deprecation_date if base else None)
    shutdown = fields.get("shutdown_date", base.shutdown_date if base else None)
    if deprecated and shutdown and deprecated > shutdown:
        raise CatalogError(
            f"{where}: deprecation_date {deprecated} is after shutdown_date {shutdown}"
        )
    return canonical, fields


def _date(where: str, key: str, value: Any) -> date | None:
    if value is None:
        return None
    text = str(value).strip()
    try:
        if not _ISO_DATE.match(text):
            raise ValueError("not YYYY-MM-DD")
        return date.fromisoformat(text)
    except ValueError as exc:
        raise CatalogError(f"{where}: {key} {text!r} is not a date (YYYY-MM-DD): {exc}") from exc


def _text(where: str, key: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise CatalogError(f"{where}: {key} must be a non-empty string")
    if key == "replacement" and not _MODEL_ID.match(value.strip()):
        raise CatalogError(f"{where}: replacement {value!r} must be a model ID without spaces")
    return value.strip()
