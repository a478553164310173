"""Run a bundle's guardrails in order: the first block stops, redactions carry on.

Each check that runs leaves an ``Outcome`` (passed, blocked, redacted or
flagged) in the caller's list, which becomes the request record's
``guardrails`` and the per-guardrail counter. Compiling happens once per
bundle digest, with the rest of ``CompiledBundle``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.bundles.guardrail_spec import (
    DenyPatternGuard,
    MaxLengthGuard,
    MaxTokensGuard,
    OutputSchemaGuard,
    PiiGuard,
    PromptInjectionGuard,
)
from app.bundles.spec import BundleSpec
from app.errors import GuardrailBlocked
from app.guardrails.check import ACTION_RESULT, Check, Outcome, Stage, redactor
from app.guardrails.limits import MaxLengthCheck, MaxTokensCheck
from app.guardrails.message_text import input_texts, rewrite_messages, rewrite_strings
from app.guardrails.patterns import DenyPatternCheck, PromptInjectionCheck
from app.guardrails.pii import PiiCheck
from app.guardrails.schema import OutputSchemaCheck


@dataclass(frozen=True, slots=True)
class CompiledGuardrails:
    input: tuple[Check, ...] = ()
    output: tuple[Check, ...] = ()

    @property
    def counts_tokens(self) -> bool:
        """Whether the input stage may load a tokenizer (so runs off the event loop)."""
        return any(isinstance(check, MaxTokensCheck) for check in self.input)


def compile_guardrails(spec: BundleSpec) -> CompiledGuardrails:
    checks: list[Check] = []
    for guard in spec.guardrails.input:
        if isinstance(guard, MaxTokensGuard):
            checks.append(MaxTokensCheck(guard, spec.model))
        elif isinstance(guard, DenyPatternGuard):
            checks.append(DenyPatternCheck(guard))
        elif isinstance(guard, PiiGuard):
            checks.append(PiiCheck(guard))
        elif isinstance(guard, PromptInjectionGuard):
            checks.append(PromptInjectionCheck(guard))
    output: list[Check] = []
    for out in spec.guardrails.output:
        if isinstance(out, OutputSchemaGuard):
            assert spec.output_schema is not None  # the spec refuses it otherwise
            output.append(OutputSchemaCheck(out, spec.output_schema))
        elif isinstance(out, DenyPatternGuard):
            output.append(DenyPatternCheck(out))
        elif isinstance(out, MaxLengthGuard):
            output.append(MaxLengthCheck(out))
        elif isinstance(out, PiiGuard):
            output.append(PiiCheck(out))
    return CompiledGuardrails(tuple(checks), tuple(output))


def _judge(stage: Stage, check: Check, texts: list[str], outcomes: list[Outcome]) -> bool:
    """Record the outcome; raise on block; True when the texts must be redacted."""
    finding = check.scan(texts)
    if finding is None:
        outcomes.append(Outcome(stage, check.label, check.type, "passed"))
        return False
    result = ACTION_RESULT[check.action]
    outcomes.append(Outcome(stage, check.label, check.type, result, finding.detail))
    if result == "blocked":
        raise GuardrailBlocked(stage, check.label, finding.detail)
    return result == "redacted"


def run_input(
    guardrails: CompiledGuardrails,
    messages: list[dict[str, Any]],
    variables: dict[str, Any],
    outcomes: list[Outcome],
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The client's messages and variables as the input guardrails leave them."""
    for check in guardrails.input:
        if _judge("input", check, input_texts(messages, variables), outcomes):
            redact = redactor(check).redact
            messages = rewrite_messages(messages, redact)
            variables = rewrite_strings(variables, redact)
    return messages, variables


def run_output(
    guardrails: CompiledGuardrails, texts: list[str | None], outcomes: list[Outcome]
) -> list[str | None]:
    """One text per choice (None for a choice with no text, e.g. a tool call)."""
    for check in guardrails.output:
        present = [text for text in texts if text is not None]
        if not present:
            break
        if _judge("output", check, present, outcomes):
            redact = redactor(check).redact
            texts = [None if text is None else redact(text) for text in texts]
    return texts


def check_completion(
    guardrails: CompiledGuardrails, response: dict[str, Any], outcomes: list[Outcome]
) -> dict[str, Any]:
    """A ``chat.completion`` with its choices' text judged, and rewritten if redacted."""
    if not guardrails.output:
        return response
    choices = response.get("choices") or []
    texts = [_content(choice) for choice in choices]
    checked = run_output(guardrails, texts, outcomes)
    if checked == texts:
        return response
    rewritten = [
        {**choice, "message": {**choice["message"], "content": text}}
        if text is not None
        else choice
        for choice, text in zip(choices, checked, strict=True)
    ]
    return {**response, "choices": rewritten}


def _content(choice: dict[str, Any]) -> str | None:
    message = choice.get("message")
    content = message.get("content") if isinstance(message, dict) else None
    return content if isinstance(content, str) else None
