"""Prompt templates rendered in a jinja2 sandbox with strict undefined.

A template is parsed once when its bundle is compiled; the variables it needs
are known from its AST, so a request that lacks one is refused with the names
of everything missing instead of failing on the first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, meta
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from app.errors import BadRequestError, BundleInvalid, MissingVariables

# Names the gateway itself provides to every template.
PROVIDED_VARIABLES = frozenset({"retrieved"})


def _environment() -> ImmutableSandboxedEnvironment:
    return ImmutableSandboxedEnvironment(
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=False,
        # An optional variable the caller left out is None: render it as nothing.
        finalize=lambda value: "" if value is None else value,
    )


_ENV = _environment()


@dataclass(frozen=True, slots=True)
class Template:
    label: str  # e.g. "prompt.system", for error messages
    source: str
    variables: frozenset[str]
    _compiled: Any

    def render(self, variables: dict[str, Any]) -> str:
        try:
            return str(self._compiled.render(variables))
        except UndefinedError as exc:
            raise MissingVariables([_undefined_name(exc)], template=self.label) from exc
        except SecurityError as exc:
            raise BadRequestError(f"{self.label}: unsafe template operation: {exc}") from exc


def compile_template(label: str, source: str) -> Template:
    try:
        ast = _ENV.parse(source)
        compiled = _ENV.from_string(source)
    except TemplateSyntaxError as exc:
        raise BundleInvalid(f"{label} does not parse: {exc.message} (line {exc.lineno})") from exc
    variables = frozenset(meta.find_undeclared_variables(ast))
    return Template(label=label, source=source, variables=variables, _compiled=compiled)


def _undefined_name(exc: UndefinedError) -> str:
    # jinja2 says "'customer_name' is undefined"; keep the name only.
    text = str(exc.message or exc)
    if text.startswith("'") and "'" in text[1:]:
        return text[1 : text.index("'", 1)]
    return text
