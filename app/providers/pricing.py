"""What a call cost: its token usage times the model's price.

Prices come from litellm's packaged model map (read as data, see
``model_map``), under an operator's overrides file for negotiated prices
(``PINYARD_PRICES_FILE``)::

    - model: openai/gpt-4o-2024-11-20     # as bundles pin it (or litellm's bare key)
      input_per_million: 2.00             # USD per million prompt tokens
      output_per_million: 8.00            # USD per million completion tokens
      cached_input_per_million: 1.00      # optional: prompt tokens read from the cache
      note: 2026 contract                 # optional

The ``fake/`` provider is free. A model with no known price costs None, never
a guess. Looking a price up is a dictionary read, so the request path can
price every answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.providers.fake import FAKE_PREFIX
from app.providers.model_map import read_model_map

PER_MILLION = 1_000_000


class PricesFileError(ValueError):
    """The prices file is unreadable or malformed (a start-up configuration bug)."""


@dataclass(frozen=True, slots=True)
class Price:
    """USD per token."""

    input: float
    output: float
    cached_input: float | None = None
    source: str = "litellm"  # or "overrides"

    def cost(self, usage: dict[str, Any]) -> float:
        prompt = _count(usage.get("prompt_tokens"))
        completion = _count(usage.get("completion_tokens"))
        details = usage.get("prompt_tokens_details")
        cached = _count(details.get("cached_tokens")) if isinstance(details, dict) else 0
        cached = min(cached, prompt) if self.cached_input is not None else 0
        return (
            (prompt - cached) * self.input
            + cached * (self.cached_input or 0.0)
            + completion * self.output
        )


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


class _Override(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1)
    input_per_million: float = Field(ge=0)
    output_per_million: float = Field(ge=0)
    cached_input_per_million: float | None = Field(default=None, ge=0)
    note: str | None = None

    def price(self) -> Price:
        cached = self.cached_input_per_million
        return Price(
            self.input_per_million / PER_MILLION,
            self.output_per_million / PER_MILLION,
            None if cached is None else cached / PER_MILLION,
            source="overrides",
        )


def load_prices_file(path: Path | str) -> dict[str, Price]:
    """``{model: Price}`` from the overrides file; a bad file raises ``PricesFileError``."""
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise PricesFileError(f"cannot read prices file {path}: {exc}") from exc
    if document is None:
        return {}
    if not isinstance(document, list):
        raise PricesFileError(f"prices file {path} must be a YAML list of model prices")
    prices: dict[str, Price] = {}
    for index, entry in enumerate(document):
        try:
            override = _Override.model_validate(entry)
        except ValidationError as exc:
            problem = exc.errors()[0]
            where = ".".join(str(p) for p in problem["loc"])
            raise PricesFileError(
                f"prices file {path}, entry {index}: {where}: {problem['msg']}"
            ) from None
        if override.model in prices:
            raise PricesFileError(f"prices file {path} prices {override.model!r} twice")
        prices[override.model] = override.price()
    return prices


def packaged_price(entry: dict[str, Any]) -> Price | None:
    """The price in one entry of litellm's map, if it gives both token prices."""
    prompt, completion = entry.get("input_cost_per_token"), entry.get("output_cost_per_token")
    if not isinstance(prompt, int | float) or not isinstance(completion, int | float):
        return None
    cached = entry.get("cache_read_input_token_cost")
    return Price(
        float(prompt), float(completion), float(cached) if isinstance(cached, int | float) else None
    )


class PriceBook:
    """The price of each model: the operator's override, else litellm's."""

    def __init__(
        self, packaged: dict[str, dict[str, Any]], overrides: dict[str, Price] | None = None
    ) -> None:
        """``packaged``: litellm's map as read (entries become prices when first asked for)."""
        self._packaged = packaged
        self._overrides = overrides or {}
        self._resolved: dict[str, Price | None] = {}

    @classmethod
    def load(cls, overrides_file: Path | None = None) -> PriceBook:
        overrides = load_prices_file(overrides_file) if overrides_file else {}
        return cls(read_model_map(), overrides)

    def price(self, model: str) -> Price | None:
        """The price of a provider model ID (``openai/gpt-4o-...``), or None when unknown."""
        try:
            return self._resolved[model]
        except KeyError:
            found = self._resolved[model] = self._lookup(model)
            return found

    def _lookup(self, model: str) -> Price | None:
        keys = (model, model.split("/", 1)[1]) if "/" in model else (model,)
        for key in keys:
            if key in self._overrides:
                return self._overrides[key]
        for key in keys:
            if key in self._packaged:
                return packaged_price(self._packaged[key])
        return None

    def cost(self, model: str, usage: dict[str, Any] | None) -> float | None:
        """US dollars for one call of ``model`` that used ``usage`` (OpenAI usage), or None."""
        if model.startswith(FAKE_PREFIX):
            return 0.0
        if not usage:
            return None
        price = self.price(model)
        return None if price is None else price.cost(usage)


def cost_header(cost: float) -> str:
    """``x-pinyard-cost-usd``: dollars in plain decimal, e.g. ``0.0000675`` (never ``6.75e-05``)."""
    text = f"{cost:.10f}".rstrip("0").rstrip(".")
    return text or "0"
