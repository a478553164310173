"""litellm's packaged model map, read as plain data (never fetched over the network).

The deprecation catalog is seeded, and prices are read, from the JSON file
litellm ships inside its package (``model_prices_and_context_window_backup.json``).
Only app/providers may touch litellm, so the file is located here and handed out
as plain dicts.
The file is found with ``importlib.util.find_spec`` and read directly, which
neither runs litellm's import-time code (~1.7 s) nor lets it download a newer
map: what the gateway knows is what was installed.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

import orjson

MAP_FILE = "model_prices_and_context_window_backup.json"
# The fields the deprecation catalog uses; prices are read by ``pricing``.
_FIELDS = ("litellm_provider", "deprecation_date", "source", "mode")

# Same setting as litellm_import: should litellm itself be imported later in
# this process, it must not fetch its map from the network either.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


class ModelMapError(RuntimeError):
    """litellm (or its packaged map) is missing or unreadable: an installation problem."""


def model_map_path() -> Path:
    spec = importlib.util.find_spec("litellm")
    if spec is None or spec.origin is None:
        raise ModelMapError("litellm is not installed; it ships the model map Pinyard reads")
    return Path(spec.origin).parent / MAP_FILE


def read_model_map() -> dict[str, dict[str, Any]]:
    """Every entry of litellm's packaged map as litellm writes it (``sample_spec`` left out)."""
    path = model_map_path()
    try:
        document = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise ModelMapError(f"cannot read litellm's model map {path}: {exc}") from exc
    if not isinstance(document, dict):
        raise ModelMapError(f"litellm's model map {path} is not a JSON object")
    return {
        key: value
        for key, value in document.items()
        if key != "sample_spec" and isinstance(value, dict)
    }


def packaged_model_map() -> dict[str, dict[str, Any]]:
    """``{litellm model key: {litellm_provider, deprecation_date, source, mode}}``.

    ``deprecation_date`` is, in litellm's data, the day the provider shuts the
    model down. Keys are as litellm writes them: bare for some providers
    (``gpt-4o-2024-11-20``), prefixed for others (``azure/...``).
    """
    return {
        key: {field: value[field] for field in _FIELDS if value.get(field) is not None}
        for key, value in read_model_map().items()
    }
