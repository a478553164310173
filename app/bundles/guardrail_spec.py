"""Guardrails as a bundle declares them: one typed model per check, chosen by ``type``.

The stage decides which types exist (a token limit checks input, a schema
checks output) and each type says which actions make sense for it: there is
nothing to redact in a token count. Patterns are compiled here only to refuse
invalid ones when a bundle is validated; ``app.guardrails`` compiles what it
runs once per bundle digest.
"""

from __future__ import annotations

import re
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Action = Literal["block", "redact", "flag"]
PiiEntity = Literal["email", "phone", "card", "iban"]
PII_ENTITIES: tuple[PiiEntity, ...] = ("email", "phone", "card", "iban")
LABEL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"


class _Guard(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    supported_actions: ClassVar[tuple[str, ...]] = ("block", "redact", "flag")

    # Shown in x-pinyard-guardrails, records and metrics; defaults to the type.
    name: str | None = Field(default=None, pattern=LABEL_PATTERN)
    action: Action = "block"

    @model_validator(mode="after")
    def _action_fits(self) -> _Guard:
        if self.action not in self.supported_actions:
            kind = getattr(self, "type", "this guardrail")
            raise ValueError(
                f"{kind} cannot {self.action}; use one of: {', '.join(self.supported_actions)}"
            )
        return self

    @property
    def label(self) -> str:
        return self.name or str(getattr(self, "type", "guardrail"))


def _check_patterns(patterns: list[str]) -> list[str]:
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(
                f"pattern {pattern!r} is not a valid regular expression: {exc}"
            ) from exc
    return patterns


class MaxTokensGuard(_Guard):
    """The client's messages, counted with the pinned model's tokenizer."""

    supported_actions: ClassVar[tuple[str, ...]] = ("block", "flag")
    type: Literal["max_tokens"]
    max_tokens: int = Field(gt=0)


class DenyPatternGuard(_Guard):
    type: Literal["deny_pattern"]
    patterns: list[str] = Field(min_length=1)

    @field_validator("patterns")
    @classmethod
    def _valid(cls, value: list[str]) -> list[str]:
        return _check_patterns(value)


class PiiGuard(_Guard):
    type: Literal["pii"]
    entities: list[PiiEntity] = Field(default_factory=lambda: list(PII_ENTITIES), min_length=1)

    @field_validator("entities")
    @classmethod
    def _ordered(cls, value: list[PiiEntity]) -> list[PiiEntity]:
        return [entity for entity in PII_ENTITIES if entity in value]


class PromptInjectionGuard(_Guard):
    """Built-in injection phrases, plus any ``patterns`` the bundle adds."""

    supported_actions: ClassVar[tuple[str, ...]] = ("block", "flag")
    type: Literal["prompt_injection"]
    patterns: list[str] = Field(default_factory=list)

    @field_validator("patterns")
    @classmethod
    def _valid(cls, value: list[str]) -> list[str]:
        return _check_patterns(value)


class OutputSchemaGuard(_Guard):
    """The answer must be JSON valid against the bundle's ``output_schema``."""

    supported_actions: ClassVar[tuple[str, ...]] = ("block", "flag")
    type: Literal["output_schema"]


class MaxLengthGuard(_Guard):
    """At most ``max_chars`` characters per answer; ``redact`` truncates."""

    type: Literal["max_length"]
    max_chars: int = Field(gt=0)


InputGuard = Annotated[
    MaxTokensGuard | DenyPatternGuard | PiiGuard | PromptInjectionGuard,
    Field(discriminator="type"),
]
OutputGuard = Annotated[
    OutputSchemaGuard | DenyPatternGuard | MaxLengthGuard | PiiGuard,
    Field(discriminator="type"),
]


class GuardrailsSpec(BaseModel):
    """Checks run in order on the client's input and on the model's answer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input: list[InputGuard] = Field(default_factory=list)
    output: list[OutputGuard] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_labels(self) -> GuardrailsSpec:
        for stage, guards in (("input", self.input), ("output", self.output)):
            labels = [guard.label for guard in guards]
            duplicates = sorted({label for label in labels if labels.count(label) > 1})
            if duplicates:
                raise ValueError(
                    f"guardrails.{stage} has more than one guardrail labelled "
                    f"{', '.join(duplicates)}; give each a distinct `name`"
                )
        return self
