"""The optional providers file: where each upstream lives and which env var holds its key.

Bundles are safe to commit and show, so they never carry credentials or base
URLs; the operator names them here instead, keyed by the litellm provider
prefix (``openai``, ``anthropic``, ``azure``, ...)::

    providers:
      openai:
        api_base: http://vllm.internal:8000/v1
        api_key_env: VLLM_API_KEY
      vllm:                                  # any prefix: an OpenAI-compatible server
        api_base: http://vllm.internal:8000/v1
        openai_compatible: true              # served by the direct client, not litellm

The file names environment variables, never keys, so it is safe to commit too.
Keys are read from the environment at call time and never logged.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from app.errors import ProviderError

_TEXT_FIELDS = frozenset({"api_base", "api_key_env", "api_version"})
_FIELDS = _TEXT_FIELDS | {"openai_compatible"}


class ProvidersFileError(ValueError):
    """The providers file is unreadable or malformed (a start-up configuration bug)."""


@dataclass(frozen=True, slots=True)
class ProviderEndpoint:
    """Where one litellm provider prefix is served and how to authenticate to it."""

    api_base: str | None = None
    api_key_env: str | None = None
    api_version: str | None = None
    # Speaks OpenAI's wire format at api_base: served by the direct client.
    openai_compatible: bool = False

    def api_key(self) -> str | None:
        """The key from ``api_key_env``, looked up now so rotations apply; None if none named."""
        if not self.api_key_env:
            return None
        key = os.environ.get(self.api_key_env)
        if not key:
            # Falling back to the provider's default variable could send another
            # provider's key to this api_base.
            raise ProviderError(
                f"environment variable {self.api_key_env} (named by the providers file) is not set",
                code="provider_auth_error",
            )
        return key

    def litellm_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for litellm."""
        kwargs: dict[str, Any] = {}
        if self.api_base:
            kwargs["api_base"] = self.api_base
        if self.api_version:
            kwargs["api_version"] = self.api_version
        key = self.api_key()
        if key:
            kwargs["api_key"] = key
        return kwargs


def load_providers_file(path: Path | str) -> dict[str, ProviderEndpoint]:
    """Parse the providers file into ``{provider_prefix: ProviderEndpoint}``."""
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ProvidersFileError(f"cannot read providers file {path}: {exc}") from exc
    if document is None:
        return {}
    if not isinstance(document, dict) or not isinstance(document.get("providers", {}), dict):
        raise ProvidersFileError(f"{path}: expected a mapping with a 'providers' mapping")
    unknown_top = set(document) - {"providers"}
    if unknown_top:
        raise ProvidersFileError(f"{path}: unknown top-level keys {sorted(unknown_top)}")
    endpoints: dict[str, ProviderEndpoint] = {}
    for name, entry in (document.get("providers") or {}).items():
        if not isinstance(entry, dict):
            raise ProvidersFileError(f"{path}: providers.{name} must be a mapping")
        if "api_key" in entry:
            raise ProvidersFileError(
                f"{path}: providers.{name}.api_key is not allowed; name the environment "
                "variable that holds the key with api_key_env"
            )
        unknown = set(entry) - _FIELDS
        if unknown:
            raise ProvidersFileError(f"{path}: providers.{name} has unknown keys {sorted(unknown)}")
        values = {k: entry.get(k) for k in _TEXT_FIELDS}
        if any(v is not None and not isinstance(v, str) for v in values.values()):
            raise ProvidersFileError(f"{path}: providers.{name} values must be strings")
        compatible = entry.get("openai_compatible", False)
        if not isinstance(compatible, bool):
            raise ProvidersFileError(
                f"{path}: providers.{name}.openai_compatible must be a boolean"
            )
        if compatible and not values["api_base"]:
            raise ProvidersFileError(
                f"{path}: providers.{name} is openai_compatible but names no api_base"
            )
        endpoints[str(name)] = ProviderEndpoint(**values, openai_compatible=compatible)
    return endpoints
