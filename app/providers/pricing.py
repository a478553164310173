"""What a call cost, from its token usage and litellm's packaged price map.

Prices are litellm's (read offline, see ``litellm_import``); the ``fake/``
provider is free. Unknown models give None: the caller decides whether an
unpriced call is acceptable.
"""

from __future__ import annotations

from typing import Any

from app.providers.fake import FAKE_PREFIX


def cost_usd(model: str, usage: dict[str, Any] | None) -> float | None:
    """US dollars for one call of ``model`` that used ``usage`` (OpenAI usage dict)."""
    if model.startswith(FAKE_PREFIX):
        return 0.0
    if not usage:
        return None
    from app.providers.litellm_import import litellm  # ~1.7 s on first use

    prices = litellm.model_cost
    entry = prices.get(model)
    if entry is None and "/" in model:
        entry = prices.get(model.split("/", 1)[1])
    if not isinstance(entry, dict):
        return None
    prompt_price = entry.get("input_cost_per_token")
    completion_price = entry.get("output_cost_per_token")
    if prompt_price is None or completion_price is None:
        return None
    prompt = int(usage.get("prompt_tokens") or 0)
    completion = int(usage.get("completion_tokens") or 0)
    return float(prompt * prompt_price + completion * completion_price)
