"""Which provider model IDs are floating (moving pointers) rather than pinned.

A bundle promises one system version; a model ID the provider silently moves
breaks that promise. ``*-latest`` and undated OpenAI and Anthropic family names
are floating. A dateless ID is not floating by itself: some providers pin
dateless IDs, so only families known to alias a dated snapshot are flagged.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_DATED = re.compile(r"(?:-|@)(?:\d{4}-\d{2}-\d{2}|\d{8}|\d{4})(?:$|[-:])")
_OPENAI_FAMILIES = re.compile(r"^(gpt-|o1|o3|o4|chatgpt-)")
_ANTHROPIC_FAMILIES = re.compile(r"^claude-")
_OPENAI_PROVIDERS = {"openai", "azure", ""}
_ANTHROPIC_PROVIDERS = {"anthropic", ""}


def split_model(model: str) -> tuple[str, str]:
    """``openai/gpt-4o`` -> ("openai", "gpt-4o"); a bare name has provider ""."""
    provider, _, name = model.rpartition("/")
    return provider, name


def floating_reason(model: str, known_pointers: Iterable[str] = ()) -> str | None:
    """Why ``model`` is a moving pointer, or None when it is pinned."""
    provider, name = split_model(model)
    if provider == "fake":
        return None
    if model in set(known_pointers):
        return f"{model} is listed as a moving pointer in the deprecation catalog"
    if name.endswith("-latest") or name == "latest" or ":latest" in name:
        return f"{model} ends in 'latest' and moves when the provider updates it"
    if provider in _OPENAI_PROVIDERS and _OPENAI_FAMILIES.match(name) and not _DATED.search(name):
        return f"{model} is an undated OpenAI name that points at the newest snapshot"
    if (
        provider in _ANTHROPIC_PROVIDERS
        and _ANTHROPIC_FAMILIES.match(name)
        and not _DATED.search(name)
    ):
        return f"{model} is an undated Anthropic alias that points at the newest snapshot"
    return None
