"""What a check reports, and what the request record keeps of each check that ran."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

Stage = Literal["input", "output"]
Result = Literal["passed", "blocked", "redacted", "flagged"]
ACTION_RESULT: dict[str, Result] = {"block": "blocked", "redact": "redacted", "flag": "flagged"}


@dataclass(frozen=True, slots=True)
class Finding:
    """What a check found, described without quoting the content (it may be PII)."""

    detail: str


@dataclass(frozen=True, slots=True)
class Outcome:
    stage: Stage
    guardrail: str  # the label: the guardrail's name, else its type
    type: str
    result: Result
    detail: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "guardrail": self.guardrail,
            "type": self.type,
            "result": self.result,
            "detail": self.detail,
        }

    @property
    def header(self) -> str:
        return f"{self.stage}.{self.guardrail}={self.result}"


class Check(Protocol):
    """One compiled guardrail. ``texts`` are the contents it judges, in order."""

    @property
    def label(self) -> str: ...

    @property
    def type(self) -> str: ...

    @property
    def action(self) -> str: ...

    def scan(self, texts: Sequence[str]) -> Finding | None: ...


@runtime_checkable
class RedactingCheck(Check, Protocol):
    """A check that can rewrite what it found; the spec allows ``redact`` only for these."""

    def redact(self, text: str) -> str: ...


def redactor(check: Check) -> RedactingCheck:
    if not isinstance(check, RedactingCheck):
        raise TypeError(f"guardrail {check.label} ({check.type}) cannot redact")
    return check
