"""Count the input tokens a call would send to its pinned model.

Real models use litellm's token counter (tiktoken, or the vendor tokenizer
litellm ships); ``fake/`` models count whitespace-separated words, exactly as
the fake provider reports ``prompt_tokens``. Blocking (and the first call pays
litellm's import): run it off the event loop.
"""

from __future__ import annotations

from typing import Any

from app.errors import BadRequestError
from app.providers.fake import FAKE_PREFIX


def count_tokens(
    model: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None
) -> int:
    if model.startswith(FAKE_PREFIX):
        return sum(len(_text(m.get("content")).split()) for m in messages)
    from app.providers.litellm_import import litellm

    try:
        count = litellm.token_counter(
            model=model,
            messages=messages,
            tools=tools or None,  # type: ignore[arg-type]
            # Never fetch an image over the network just to measure it.
            use_default_image_token_count=True,
        )
    except (ValueError, TypeError, KeyError) as exc:
        raise BadRequestError(f"cannot count tokens for these messages: {exc}") from exc
    return int(count)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""
