"""The answer must be JSON that the bundle's ``output_schema`` accepts.

The validator is built once per bundle digest. Findings name the failing
keyword and JSON path, never the value, which may be personal data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from app.bundles.guardrail_spec import OutputSchemaGuard
from app.guardrails.check import Finding


class OutputSchemaCheck:
    def __init__(self, spec: OutputSchemaGuard, schema: dict[str, Any]) -> None:
        self.label, self.type, self.action = spec.label, spec.type, spec.action
        self.validator = Draft202012Validator(schema)

    def scan(self, texts: Sequence[str]) -> Finding | None:
        problems = [p for i, text in enumerate(texts) if (p := self._problem(i, text))]
        return Finding("; ".join(problems)) if problems else None

    def _problem(self, index: int, text: str) -> str | None:
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            return f"answer {index} is not JSON"
        error = best_match(self.validator.iter_errors(value))
        if error is None:
            return None
        where = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.path)
        return f"answer {index} fails {error.validator!r} at {where}"
