"""The bundle: one immutable system version, and its content digest.

A bundle's identity is the sha256 of its canonical JSON (templates inlined,
keys sorted, defaults filled in), so YAML key order, quoting and comments never
change it while one changed template byte always does.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.bundles.guardrail_spec import GuardrailsSpec, OutputSchemaGuard
from app.bundles.retrieval_spec import RetrievalSpec

NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,62}$"
DIGEST_PATTERN = re.compile(r"^sha256:[0-9a-f]{64}$")
REF_PATTERN = re.compile(r"^(?P<name>[a-z0-9][a-z0-9._-]{0,62})@(?P<sel>\d+|sha256:[0-9a-f]{64})$")

# Parameters a client may be allowed to set (through ``client_params``).
TUNABLE_PARAMS = frozenset(
    {
        "temperature",
        "top_p",
        "max_tokens",
        "max_completion_tokens",
        "n",
        "seed",
        "stop",
        "user",
        "presence_penalty",
        "frequency_penalty",
        "logit_bias",
        "logprobs",
        "top_logprobs",
        "reasoning_effort",
        "service_tier",
    }
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TemplatedMessage(_Strict):
    role: Literal["system", "user", "assistant", "developer"]
    content: str


class PromptSpec(_Strict):
    system: str | None = None
    messages: list[TemplatedMessage] = Field(default_factory=list)


class BundleSpec(_Strict):
    """What ``prompts/<name>/bundle.yaml`` declares, with templates inlined."""

    name: str = Field(pattern=NAME_PATTERN)
    kind: Literal["chat", "embedding"] = "chat"
    model: str = Field(min_length=1)
    allow_floating: bool = False
    params: dict[str, Any] = Field(default_factory=dict)
    client_params: list[str] = Field(default_factory=list)
    prompt: PromptSpec = Field(default_factory=PromptSpec)
    variables_schema: dict[str, Any] | None = None
    retrieval: RetrievalSpec | None = None
    guardrails: GuardrailsSpec = Field(default_factory=GuardrailsSpec)
    output_schema: dict[str, Any] | None = None
    fallbacks: list[str] = Field(default_factory=list)
    timeout_s: float = Field(default=30.0, gt=0, le=600)
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("client_params")
    @classmethod
    def _known_client_params(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - TUNABLE_PARAMS)
        if unknown:
            raise ValueError(
                f"unknown client_params {unknown}; allowed: {', '.join(sorted(TUNABLE_PARAMS))}"
            )
        return sorted(set(value))

    @field_validator("params")
    @classmethod
    def _no_secrets_in_params(cls, value: dict[str, Any]) -> dict[str, Any]:
        forbidden = {"api_key", "api_base", "base_url", "headers", "extra_headers"} & set(value)
        if forbidden:
            raise ValueError(
                f"params may not carry credentials or endpoints ({', '.join(sorted(forbidden))}); "
                "they come from the gateway's environment"
            )
        return value

    @field_validator("fallbacks")
    @classmethod
    def _fallbacks_are_refs(cls, value: list[str]) -> list[str]:
        for ref in value:
            if not REF_PATTERN.match(ref):
                raise ValueError(
                    f"fallback {ref!r} is not a bundle reference name@N or name@sha256:<hex>"
                )
        return value

    @model_validator(mode="after")
    def _output_schema_guard_has_a_schema(self) -> BundleSpec:
        if self.output_schema is None and any(
            isinstance(guard, OutputSchemaGuard) for guard in self.guardrails.output
        ):
            raise ValueError("guardrails.output: output_schema needs the bundle's output_schema")
        return self

    def canonical_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def canonical_json(self) -> bytes:
        return canonical_json(self.canonical_dict())

    @property
    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.canonical_json()).hexdigest()


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no insignificant whitespace, UTF-8: the bytes a digest is taken over."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def parse_ref(ref: str) -> tuple[str, int | str]:
    """``name@3`` -> ("name", 3); ``name@sha256:..`` -> ("name", "sha256:..")."""
    match = REF_PATTERN.match(ref)
    if not match:
        raise ValueError(f"{ref!r} is not a bundle reference (name@N or name@sha256:<64 hex>)")
    selector = match["sel"]
    return match["name"], int(selector) if selector.isdigit() else selector
