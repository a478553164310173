"""Custom checks used by the python-scorer tests."""

from __future__ import annotations

from typing import Any


def has_digits(output: str) -> bool:
    return any(c.isdigit() for c in output)


def graded(output: str, case: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    assert case["id"] == "c1"
    return {"score": 0.6, "reason": "graded"}


def explodes(output: str) -> bool:
    raise RuntimeError("kaboom")
