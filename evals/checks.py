"""Custom checks for the suites in this folder (``type: python`` scorers).

A check gets the answer's text, and by name only what it declares: ``case``,
``response``, ``latency_ms``, ``params``. It returns a bool, a score in [0, 1],
a ``(result, reason)`` pair or a dict with ``score``, ``passed`` and ``reason``.
"""

from __future__ import annotations

import re
from typing import Any


def mentions_order_number(output: str, case: dict[str, Any]) -> tuple[bool, str]:
    """Every order number the customer wrote appears in the answer."""
    asked = " ".join(str(m.get("content", "")) for m in case["messages"] if m["role"] == "user")
    numbers = re.findall(r"\b\d{3,}\b", asked)
    missing = [n for n in numbers if n not in output]
    if missing:
        return False, f"order number(s) {', '.join(missing)} missing from the answer"
    return True, f"mentions {', '.join(numbers) or 'no order number (none asked)'}"
