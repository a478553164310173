"""A bundle ready to serve: templates parsed, variables schema compiled.

Compilation is where a bundle is judged: templates must parse, every variable
they use must be declared when a ``variables_schema`` is given, schemas must be
valid JSON Schema, and the model must be pinned. Bundles are immutable, so a
compiled bundle is cached by digest for the life of the process, and so are
its guardrails (patterns, schema validator) and its retriever (a BM25 index).

It lives in the registry, above ``app.guardrails`` and ``app.retrieval`` whose
checks and retrievers it holds, and below everything that serves a bundle.
``PrepareChat`` is how such a bundle meets one client body: the gateway's
``prepare_chat`` is its one implementation, injected into the rooms that replay
requests off the gateway's path (shadow traffic, in-process eval targets).
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from app.bundles.pinning import floating_reason
from app.bundles.spec import BundleSpec
from app.bundles.templates import PROVIDED_VARIABLES, Template, compile_template
from app.errors import BundleInvalid, InvalidVariables, MissingVariables
from app.guardrails.apply import CompiledGuardrails, compile_guardrails
from app.guardrails.check import Outcome
from app.guardrails.message_text import last_user_text
from app.providers.fallback import Planned
from app.retrieval.factory import build_retriever
from app.retrieval.passages import Retriever

# Names a retrieval query template gets besides the request's variables.
QUERY_VARIABLES = frozenset({"last_user_message"})


@dataclass(frozen=True, slots=True)
class CompiledBundle:
    spec: BundleSpec
    digest: str
    system: Template | None
    messages: tuple[tuple[str, Template], ...]
    template_variables: frozenset[str]
    required_variables: frozenset[str]
    optional_defaults: tuple[tuple[str, Any], ...]  # declared, not required: name -> default
    validator: Draft202012Validator | None
    floating: str | None  # why the model floats (served only with allow_floating)
    guardrails: CompiledGuardrails = field(default_factory=CompiledGuardrails)
    retriever: Retriever | None = None
    query: Template | None = None  # retrieval query; None: the last user message

    @property
    def name(self) -> str:
        return self.spec.name

    def templates(self) -> list[Template]:
        found = [self.system] if self.system else []
        return found + [template for _, template in self.messages]

    def check_variables(self, variables: dict[str, Any]) -> None:
        missing = self.required_variables - variables.keys()
        if missing:
            raise MissingVariables(sorted(missing))
        if self.validator is not None:
            errors = sorted(self.validator.iter_errors(variables), key=lambda e: list(e.path))
            if errors:
                first = errors[0]
                where = ".".join(str(p) for p in first.absolute_path)
                param = f"variables.{where}" if where else "variables"
                details = "; ".join(_describe(e) for e in errors)
                raise InvalidVariables(f"invalid variables: {details}", param=param)

    def render(
        self, variables: dict[str, Any], *, retrieved: Sequence[dict[str, Any]] = ()
    ) -> list[dict[str, Any]]:
        """The bundle's messages, to be prepended to the client's.

        Gateway-provided names (``retrieved``) always win over a client's
        variable of the same name: a client cannot forge retrieved passages.
        """
        self.check_variables(variables)
        variables = {**dict(self.optional_defaults), **variables, "retrieved": list(retrieved)}
        rendered: list[dict[str, Any]] = []
        if self.system is not None:
            rendered.append({"role": "system", "content": self.system.render(variables)})
        for role, template in self.messages:
            rendered.append({"role": role, "content": template.render(variables)})
        return rendered

    def retrieval_query(self, variables: dict[str, Any], messages: list[dict[str, Any]]) -> str:
        last = last_user_text(messages)
        if self.query is None:
            return last
        self.check_variables(variables)
        defaults = dict(self.optional_defaults)
        return self.query.render({**defaults, **variables, "last_user_message": last})


def _describe(error: Any) -> str:
    where = ".".join(str(p) for p in error.absolute_path)
    return f"variables.{where}: {error.message}" if where else f"variables: {error.message}"


def _check_schema(label: str, schema: dict[str, Any] | None) -> Draft202012Validator | None:
    if schema is None:
        return None
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise BundleInvalid(f"{label} is not a valid JSON Schema: {exc.message}") from exc
    return Draft202012Validator(schema)


def compile_bundle(
    spec: BundleSpec,
    *,
    known_pointers: frozenset[str] = frozenset(),
    enforce_pinning: bool = True,
) -> CompiledBundle:
    floating = floating_reason(spec.model, known_pointers)
    if floating and not spec.allow_floating and enforce_pinning:
        raise BundleInvalid(
            f"model {spec.model!r} is floating ({floating}); pin a dated model ID "
            "or set allow_floating: true",
            param="model",
        )
    system = compile_template("prompt.system", spec.prompt.system) if spec.prompt.system else None
    messages = tuple(
        (message.role, compile_template(f"prompt.messages[{i}]", message.content))
        for i, message in enumerate(spec.prompt.messages)
    )
    retrieval = spec.retrieval
    query = (
        compile_template("retrieval.query", retrieval.query)
        if retrieval is not None and retrieval.query is not None
        else None
    )
    used: set[str] = set(system.variables) if system else set()
    for _, template in messages:
        used |= template.variables
    if query is not None:
        used |= query.variables - QUERY_VARIABLES
    used -= PROVIDED_VARIABLES
    validator = _check_schema("variables_schema", spec.variables_schema)
    _check_schema("output_schema", spec.output_schema)
    required = set(used)
    optional: dict[str, Any] = {}
    if spec.variables_schema is not None:
        declared = set(spec.variables_schema.get("properties", {}))
        undeclared = sorted(used - declared)
        if undeclared:
            raise BundleInvalid(
                "templates use variables that variables_schema does not declare: "
                + ", ".join(undeclared),
                param="variables_schema",
            )
        schema_required = set(spec.variables_schema.get("required", []))
        # A declared optional variable may be absent; strict undefined still
        # catches a template that uses it without a default.
        required = schema_required | (used - declared)
        properties = spec.variables_schema.get("properties", {})
        optional = {
            name: properties[name].get("default") if isinstance(properties[name], dict) else None
            for name in sorted(used & declared - schema_required)
        }
    return CompiledBundle(
        spec=spec,
        digest=spec.digest,
        system=system,
        messages=messages,
        template_variables=frozenset(used),
        required_variables=frozenset(required),
        optional_defaults=tuple(optional.items()),
        validator=validator,
        floating=floating,
        guardrails=compile_guardrails(spec),
        retriever=build_retriever(retrieval),
        query=query,
    )


class PrepareChat(Protocol):
    """Input guardrails, retrieval and the rendered call for one body (``app.gateway.prepare``)."""

    def __call__(
        self,
        bundle: CompiledBundle,
        body: dict[str, Any],
        *,
        stream: bool,
        http: httpx.AsyncClient,
        outcomes: list[Outcome],
    ) -> Awaitable[Planned]: ...
