"""Guardrail declarations are typed: bad types, actions, patterns and schemas are refused."""

from __future__ import annotations

from typing import Any

import pytest

from app.bundles.loader import parse_spec
from app.errors import BundleInvalid
from app.registry.compiled import compile_bundle
from tests.conftest import fake_spec


def _compile(**overrides: Any) -> Any:
    return compile_bundle(parse_spec(fake_spec(**overrides)))


@pytest.mark.parametrize(
    ("guardrails", "problem"),
    [
        ({"input": [{"type": "toxicity"}]}, "does not match any of the expected tags"),
        ({"input": [{"type": "pii", "action": "shout"}]}, "'block', 'redact' or 'flag'"),
        ({"input": [{"type": "max_tokens", "max_tokens": 5, "action": "redact"}]}, "cannot redact"),
        ({"input": [{"type": "prompt_injection", "action": "redact"}]}, "cannot redact"),
        ({"input": [{"type": "deny_pattern", "patterns": ["(unclosed"]}]}, "not a valid regular"),
        ({"input": [{"type": "deny_pattern", "patterns": []}]}, "at least 1 item"),
        ({"input": [{"type": "pii", "entities": ["passport"]}]}, "'email', 'phone', 'card'"),
        ({"input": [{"type": "max_length", "max_chars": 5}]}, "does not match any"),
        ({"output": [{"type": "max_tokens", "max_tokens": 5}]}, "does not match any"),
        ({"output": [{"type": "output_schema"}]}, "needs the bundle's output_schema"),
        ({"input": [{"type": "pii"}, {"type": "pii"}]}, "give each a distinct `name`"),
        ({"input": [{"type": "pii", "name": "has space"}]}, "should match pattern"),
        ({"input": [{"type": "pii", "extra": 1}]}, "unknown field"),
    ],
)
def test_bad_guardrails_are_refused_with_the_problem_named(
    guardrails: dict[str, Any], problem: str
) -> None:
    with pytest.raises(BundleInvalid) as err:
        _compile(guardrails=guardrails)
    assert problem in err.value.message
    assert "guardrails" in err.value.message


def test_an_output_schema_that_is_not_json_schema_is_refused() -> None:
    with pytest.raises(BundleInvalid, match="output_schema is not a valid JSON Schema"):
        _compile(
            output_schema={"type": "objekt"},
            guardrails={"output": [{"type": "output_schema"}]},
        )


def test_defaults_are_part_of_the_canonical_spec() -> None:
    compiled = _compile(guardrails={"input": [{"type": "pii"}]})
    (pii,) = compiled.spec.canonical_dict()["guardrails"]["input"]
    assert pii == {
        "type": "pii",
        "name": None,
        "action": "block",
        "entities": ["email", "phone", "card", "iban"],
    }


def test_bundles_without_guardrails_keep_their_digest_shape() -> None:
    spec = parse_spec(fake_spec())
    assert spec.canonical_dict()["guardrails"] == {"input": [], "output": []}
    assert spec.canonical_dict()["retrieval"] is None


def test_two_guardrails_of_one_type_with_names() -> None:
    compiled = _compile(
        guardrails={
            "output": [
                {"type": "deny_pattern", "name": "secrets", "patterns": ["(?i)password"]},
                {"type": "deny_pattern", "name": "rivals", "patterns": ["Acme"], "action": "flag"},
            ]
        }
    )
    assert [c.label for c in compiled.guardrails.output] == ["secrets", "rivals"]
