"""Size limits: input tokens (the pinned model's tokenizer) and answer length."""

from __future__ import annotations

from collections.abc import Sequence

from app.bundles.guardrail_spec import MaxLengthGuard, MaxTokensGuard
from app.guardrails.check import Finding
from app.providers.token_count import count_tokens


class MaxTokensCheck:
    """Counts the client's text as one message with litellm's counter for ``model``.

    ``fake/`` models count whitespace-separated words. The first count for a
    model may load its tokenizer, so the runner calls this off the event loop.
    """

    def __init__(self, spec: MaxTokensGuard, model: str) -> None:
        self.label, self.type, self.action = spec.label, spec.type, spec.action
        self.limit, self.model = spec.max_tokens, model

    def scan(self, texts: Sequence[str]) -> Finding | None:
        if not texts:
            return None
        tokens = count_tokens(self.model, [{"role": "user", "content": "\n".join(texts)}])
        if tokens <= self.limit:
            return None
        return Finding(f"{tokens} input tokens, more than {self.limit}")


class MaxLengthCheck:
    """``redact`` truncates each answer to ``max_chars``."""

    def __init__(self, spec: MaxLengthGuard) -> None:
        self.label, self.type, self.action = spec.label, spec.type, spec.action
        self.limit = spec.max_chars

    def scan(self, texts: Sequence[str]) -> Finding | None:
        longest = max((len(text) for text in texts), default=0)
        if longest <= self.limit:
            return None
        return Finding(f"{longest} characters, more than {self.limit}")

    def redact(self, text: str) -> str:
        return text[: self.limit]
