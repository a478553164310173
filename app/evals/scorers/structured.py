"""Scorers on structure: the answer parses as JSON, and fits a JSON Schema."""

from __future__ import annotations

import json
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import Field, field_validator

from app.evals.scorers.scorer import Observation, Score, ScorerParams, SyncScorer, clip


def parse_json(text: str) -> tuple[Any, str | None]:
    """The parsed value, or the reason it does not parse (fenced ```json blocks allowed)."""
    stripped = text.strip()
    if stripped.startswith("```"):
        stripped = stripped.strip("`").removeprefix("json").strip()
    try:
        return json.loads(stripped), None
    except json.JSONDecodeError as exc:
        return None, f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"


class JsonValid(SyncScorer):
    type = "json_valid"

    def check(self, obs: Observation) -> Score:
        _, problem = parse_json(obs.output)
        return self.binary(problem is None, "valid JSON", f"{problem}: {clip(obs.output)!r}")


class JsonSchemaParams(ScorerParams):
    # ``schema`` in the suite (the attribute name would shadow BaseModel.schema).
    # None: the bundle's own output_schema.
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")

    @field_validator("schema_")
    @classmethod
    def _valid(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None:
            try:
                Draft202012Validator.check_schema(value)
            except SchemaError as exc:
                raise ValueError(f"schema is not a valid JSON Schema: {exc.message}") from exc
        return value


class JsonSchema(SyncScorer):
    type = "json_schema"
    params_model = JsonSchemaParams

    def check(self, obs: Observation) -> Score:
        p = self.params
        assert isinstance(p, JsonSchemaParams)
        schema = p.schema_ if p.schema_ is not None else obs.output_schema
        if schema is None:
            return self.result(
                0, False, "no schema: give 'schema' or set the bundle's output_schema"
            )
        value, problem = parse_json(obs.output)
        if problem is not None:
            return self.result(0, False, f"{problem}: {clip(obs.output)!r}")
        errors = sorted(Draft202012Validator(schema).iter_errors(value), key=lambda e: list(e.path))
        if errors:
            first = errors[0]
            where = "/".join(str(p) for p in first.absolute_path) or "(root)"
            more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
            return self.result(0, False, f"{where}: {first.message}{more}")
        return self.result(1, True, "fits the schema")
