"""Pattern checks: a bundle's deny list, and known prompt-injection phrasings.

The injection list is a tripwire for the common, literal attempts (override
the instructions, reveal the system prompt, switch to an unrestricted mode,
forge a chat-template role marker), not a classifier; a bundle can add its
own ``patterns``. Findings name the pattern, never the matched text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from app.bundles.guardrail_spec import DenyPatternGuard, PromptInjectionGuard
from app.guardrails.check import Finding

REDACTED = "[REDACTED]"

_PREVIOUS = (
    r"(?:all\s+|any\s+|the\s+|your\s+|these\s+|those\s+)*"
    r"(?:previous|prior|above|earlier|preceding|original|system)"
)
INJECTION_PATTERNS: tuple[tuple[str, str], ...] = (
    (
        "override-instructions",
        rf"\b(?:ignore|disregard|forget|override|bypass)\s+{_PREVIOUS}\s+"
        r"(?:instructions?|prompts?|rules|directions|guidelines|messages?)",
    ),
    (
        "reveal-prompt",
        r"\b(?:reveal|show|print|repeat|output|display|leak|tell\s+me)\s+(?:me\s+)?"
        r"(?:your|the)\s+(?:system|hidden|initial|original|secret)\s+"
        r"(?:prompt|instructions?|message)",
    ),
    (
        "unrestricted-mode",
        r"\b(?:you\s+are\s+now|act\s+as|pretend\s+to\s+be|enable|enter|activate)\s+"
        r"(?:an?\s+|in\s+)?(?:DAN|developer\s+mode|god\s+mode|jailbr(?:eak|oken)(?:\s+mode)?"
        r"|unrestricted|unfiltered|uncensored)\b",
    ),
    (
        "no-rules",
        r"\b(?:pretend|imagine|act\s+as\s+if)\s+(?:that\s+)?you\s+(?:have|had)\s+no\s+"
        r"(?:rules|restrictions|guidelines|filters|limits)",
    ),
    (
        "role-marker",
        r"<\|im_start\|>|<\|(?:system|assistant)\|>|\[/?INST\]|<<SYS>>|^\s*#{2,}\s*system\b",
    ),
)


def _compile(pattern: str, flags: int = 0) -> re.Pattern[str]:
    return re.compile(pattern, flags | re.MULTILINE)


class DenyPatternCheck:
    def __init__(self, spec: DenyPatternGuard) -> None:
        self.label, self.type, self.action = spec.label, spec.type, spec.action
        self.patterns = tuple(_compile(p) for p in spec.patterns)

    def scan(self, texts: Sequence[str]) -> Finding | None:
        hits = [i for i, p in enumerate(self.patterns) if any(p.search(t) for t in texts)]
        if not hits:
            return None
        return Finding("matched deny pattern " + ", ".join(f"#{i + 1}" for i in hits))

    def redact(self, text: str) -> str:
        for pattern in self.patterns:
            text = pattern.sub(REDACTED, text)
        return text


class PromptInjectionCheck:
    def __init__(self, spec: PromptInjectionGuard) -> None:
        self.label, self.type, self.action = spec.label, spec.type, spec.action
        builtin = [(name, _compile(p, re.IGNORECASE)) for name, p in INJECTION_PATTERNS]
        extra = [(f"pattern #{i + 1}", _compile(p)) for i, p in enumerate(spec.patterns)]
        self.patterns = tuple(builtin + extra)

    def scan(self, texts: Sequence[str]) -> Finding | None:
        hits = [name for name, p in self.patterns if any(p.search(t) for t in texts)]
        return Finding("looks like prompt injection: " + ", ".join(hits)) if hits else None
