"""Tests for app.bundles.diff: field changes, template diffs, breaking variable schemas."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from app.bundles.diff import BundleDiff, FieldChange, diff_bundles
from app.bundles.spec import BundleSpec


def _spec(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "support-reply",
        "model": "openai/gpt-4o-2024-08-06",
        "params": {"temperature": 0.2, "max_tokens": 400},
        "client_params": ["temperature"],
        "prompt": {
            "system": "You are a support agent.\nBe concise.\nNever promise refunds.",
            "messages": [{"role": "user", "content": "Customer: {{ customer_name }}"}],
        },
        "guardrails": {"input": [{"type": "pii", "action": "redact"}], "output": []},
        "fallbacks": ["support-reply-mini@2"],
        "metadata": {"owner": "support"},
    }
    base.update(overrides)
    return BundleSpec(**base).canonical_dict()


def _paths(diff: BundleDiff) -> dict[str, FieldChange]:
    return {change.path: change for change in diff.changes}


def test_identical_specs_give_an_empty_diff() -> None:
    diff = diff_bundles(_spec(), _spec())
    assert diff.is_empty
    assert diff.as_dict() == {"changes": [], "templates": [], "breaking_variables": []}


def test_model_change() -> None:
    diff = diff_bundles(_spec(), _spec(model="openai/gpt-4o-2024-11-20"))
    assert diff.changes == [
        FieldChange("model", "changed", "openai/gpt-4o-2024-08-06", "openai/gpt-4o-2024-11-20")
    ]
    assert not diff.is_empty
    assert not diff.templates and not diff.breaking_variables


def test_scalar_fields() -> None:
    diff = diff_bundles(_spec(), _spec(timeout_s=10, allow_floating=True))
    paths = _paths(diff)
    assert paths["timeout_s"] == FieldChange("timeout_s", "changed", 30.0, 10.0)
    assert paths["allow_floating"] == FieldChange("allow_floating", "changed", False, True)


def test_params_added_removed_changed() -> None:
    new = _spec(params={"temperature": 0.7, "seed": 7})
    paths = _paths(diff_bundles(_spec(), new))
    assert paths["params.temperature"] == FieldChange("params.temperature", "changed", 0.2, 0.7)
    assert paths["params.seed"] == FieldChange("params.seed", "added", None, 7)
    assert paths["params.max_tokens"] == FieldChange("params.max_tokens", "removed", 400, None)


def test_params_from_empty_are_reported_per_key() -> None:
    paths = _paths(diff_bundles(_spec(params={}), _spec(params={"seed": 1})))
    assert paths == {"params.seed": FieldChange("params.seed", "added", None, 1)}


def test_client_params_are_items() -> None:
    diff = diff_bundles(_spec(), _spec(client_params=["seed", "max_tokens"]))
    assert sorted((c.path, c.kind) for c in diff.changes) == [
        ("client_params.max_tokens", "added"),
        ("client_params.seed", "added"),
        ("client_params.temperature", "removed"),
    ]


def test_fallbacks_whole_value() -> None:
    paths = _paths(diff_bundles(_spec(), _spec(fallbacks=["a@1", "support-reply-mini@2"])))
    assert paths["fallbacks"].kind == "changed"
    assert paths["fallbacks"].after == ["a@1", "support-reply-mini@2"]
    assert _paths(diff_bundles(_spec(), _spec(fallbacks=[])))["fallbacks"].kind == "removed"
    assert _paths(diff_bundles(_spec(fallbacks=[]), _spec()))["fallbacks"].kind == "added"


def test_guardrails_matched_by_type() -> None:
    old = _spec(
        guardrails={"input": [{"type": "pii", "action": "redact"}, {"type": "prompt_injection"}]}
    )
    new = _spec(
        guardrails={
            "input": [{"type": "pii", "action": "block"}, {"type": "max_tokens", "max_tokens": 9}],
            "output": [{"type": "max_length", "max_chars": 100}],
        }
    )
    paths = _paths(diff_bundles(old, new))
    assert paths["guardrails.input.pii"].kind == "changed"
    assert paths["guardrails.input.pii"].after["action"] == "block"
    assert paths["guardrails.input.prompt_injection"].kind == "removed"
    assert paths["guardrails.input.max_tokens"].kind == "added"
    added = paths["guardrails.output.max_length"]
    assert added.kind == "added" and added.before is None
    assert added.after["max_chars"] == 100


def test_guardrails_matched_by_name() -> None:
    deny = {"type": "deny_pattern", "patterns": ["a"]}
    old = _spec(guardrails={"output": [{**deny, "name": "secrets"}, {**deny, "name": "rivals"}]})
    new = _spec(
        guardrails={
            "output": [{**deny, "name": "secrets"}, {**deny, "name": "rivals", "action": "flag"}]
        }
    )
    paths = _paths(diff_bundles(old, new))
    assert list(paths) == ["guardrails.output.rivals"]
    assert paths["guardrails.output.rivals"].kind == "changed"


def test_guardrails_reorder_is_reported() -> None:
    a, b = {"type": "pii"}, {"type": "prompt_injection"}
    paths = _paths(
        diff_bundles(_spec(guardrails={"input": [a, b]}), _spec(guardrails={"input": [b, a]}))
    )
    assert paths == {
        "guardrails.input.order": FieldChange(
            "guardrails.input.order",
            "changed",
            ["pii", "prompt_injection"],
            ["prompt_injection", "pii"],
        )
    }


def test_guardrails_without_unique_labels_fall_back_to_index() -> None:
    # Stored specs are compared as dicts; entries that cannot be told apart match by position.
    old = {"guardrails": {"output": [{"type": "regex", "p": "a"}, {"type": "regex", "p": "b"}]}}
    new = {"guardrails": {"output": [{"type": "regex", "p": "a"}, {"type": "regex", "p": "c"}]}}
    paths = _paths(diff_bundles(old, new))
    assert list(paths) == ["guardrails.output.1"]
    assert paths["guardrails.output.1"].kind == "changed"


def test_retrieval_and_metadata_key_level() -> None:
    retrieval = {"kind": "http", "url": "http://retriever.invalid/search"}
    old = _spec(retrieval={**retrieval, "top_k": 4}, metadata={"owner": "support"})
    new = _spec(retrieval={**retrieval, "top_k": 8}, metadata={"owner": "cx", "ticket": "X-1"})
    paths = _paths(diff_bundles(old, new))
    assert paths["retrieval.top_k"] == FieldChange("retrieval.top_k", "changed", 4, 8)
    assert paths["metadata.owner"].kind == "changed"
    assert paths["metadata.ticket"].kind == "added"
    added = _paths(diff_bundles(_spec(), new))["retrieval"]
    assert added.kind == "added" and added.before is None


def test_output_schema_whole_value() -> None:
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}}
    paths = _paths(diff_bundles(_spec(), _spec(output_schema=schema)))
    assert paths["output_schema"] == FieldChange("output_schema", "added", None, schema)


def test_variables_schema_change_is_a_field_change_too() -> None:
    schema = {"type": "object", "properties": {"customer_name": {"type": "string"}}}
    relaxed = {"type": "object"}
    diff = diff_bundles(_spec(variables_schema=schema), _spec(variables_schema=relaxed))
    assert _paths(diff)["variables_schema"].kind == "changed"
    assert diff.breaking_variables == []


def test_system_template_unified_diff() -> None:
    new = _spec(
        prompt={
            "system": "You are a support agent.\nBe brief.\nNever promise refunds.",
            "messages": [{"role": "user", "content": "Customer: {{ customer_name }}"}],
        }
    )
    diff = diff_bundles(_spec(), new)
    assert [t.label for t in diff.templates] == ["prompt.system"]
    text = diff.templates[0].unified
    lines = text.splitlines()
    assert lines[0] == "--- a/prompt.system"
    assert lines[1] == "+++ b/prompt.system"
    assert "-Be concise." in lines
    assert "+Be brief." in lines
    assert " You are a support agent." in lines
    assert "\n\n" not in text and text.endswith("\n") and not text.endswith("\n\n")


def test_trailing_newline_change_is_visible() -> None:
    old = _spec(prompt={"system": "Hi"})
    diff = diff_bundles(old, _spec(prompt={"system": "Hi\n"}))
    assert len(diff.templates) == 1
    assert "+" in diff.templates[0].unified.splitlines()


def test_message_added_and_changed() -> None:
    new = _spec(
        prompt={
            "system": "You are a support agent.\nBe concise.\nNever promise refunds.",
            "messages": [
                {"role": "developer", "content": "Customer: {{ customer_name }}"},
                {"role": "user", "content": "Order {{ order_id }}"},
            ],
        }
    )
    diff = diff_bundles(_spec(), new)
    by_label = {t.label: t.unified for t in diff.templates}
    assert list(by_label) == ["prompt.messages[0]", "prompt.messages[1]"]
    assert "-[user]" in by_label["prompt.messages[0]"].splitlines()
    assert "+[developer]" in by_label["prompt.messages[0]"].splitlines()
    added = by_label["prompt.messages[1]"].splitlines()
    assert added[:2] == ["--- /dev/null", "+++ b/prompt.messages[1]"]
    assert "+[user]" in added and "+Order {{ order_id }}" in added


def test_message_removed() -> None:
    diff = diff_bundles(_spec(), _spec(prompt={"system": _spec()["prompt"]["system"]}))
    assert [t.label for t in diff.templates] == ["prompt.messages[0]"]
    lines = diff.templates[0].unified.splitlines()
    assert lines[:2] == ["--- a/prompt.messages[0]", "+++ /dev/null"]
    assert "-Customer: {{ customer_name }}" in lines


def test_as_dict_is_json_serialisable() -> None:
    new = _spec(
        model="openai/gpt-4o-mini-2024-07-18",
        prompt={"system": "x"},
        variables_schema={"type": "object", "required": ["customer_name"]},
    )
    body = diff_bundles(_spec(), new).as_dict()
    assert set(body) == {"changes", "templates", "breaking_variables"}
    round_trip = json.loads(json.dumps(body))
    assert round_trip == body
    assert {"path": "model", "kind": "changed"}.items() <= body["changes"][0].items()
    assert set(body["templates"][0]) == {"label", "unified"}


# --- breaking variables -----------------------------------------------------------------------

OBJ = "object"


def _obj(props: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": OBJ, "properties": props, **extra}


# (id, old schema, new schema, expected reason fragment, variables old accepts and new rejects)
BREAKING: list[tuple[str, Any, Any, str, dict[str, Any]]] = [
    (
        "no-schema-to-required",
        None,
        {"type": OBJ, "required": ["customer_name"]},
        "variables.customer_name is now required",
        {},
    ),
    (
        "no-schema-to-closed",
        None,
        {"type": OBJ, "additionalProperties": False},
        "additionalProperties is now false",
        {"x": 1},
    ),
    (
        "no-schema-to-typed",
        None,
        _obj({"customer_name": {"type": "string"}}),
        "variables.customer_name is now restricted to type string",
        {"customer_name": 5},
    ),
    (
        "newly-required",
        _obj({"customer_name": {"type": "string"}}),
        _obj({"customer_name": {"type": "string"}}, required=["customer_name"]),
        "variables.customer_name is now required",
        {},
    ),
    (
        "type-loses-null",
        _obj({"note": {"type": ["string", "null"]}}),
        _obj({"note": {"type": "string"}}),
        "variables.note type narrowed",
        {"note": None},
    ),
    (
        "number-to-integer",
        _obj({"qty": {"type": "number"}}),
        _obj({"qty": {"type": "integer"}}),
        "variables.qty type narrowed from number to integer",
        {"qty": 1.5},
    ),
    (
        "string-to-integer",
        _obj({"id": {"type": "string"}}),
        _obj({"id": {"type": "integer"}}),
        "variables.id type changed from string to integer",
        {"id": "a"},
    ),
    (
        "enum-lost-values",
        _obj({"tier": {"enum": ["gold", "silver", "bronze"]}}),
        _obj({"tier": {"enum": ["gold", "silver"]}}),
        'variables.tier no longer accepts values ["bronze"]',
        {"tier": "bronze"},
    ),
    (
        "enum-added",
        _obj({"tier": {"type": "string"}}),
        _obj({"tier": {"type": "string", "enum": ["gold"]}}),
        "variables.tier is now limited to enum",
        {"tier": "silver"},
    ),
    (
        "const-added",
        _obj({"mode": {"type": "string"}}),
        _obj({"mode": {"type": "string", "const": "strict"}}),
        "variables.mode is now limited to const",
        {"mode": "lenient"},
    ),
    (
        "enum-to-const",
        _obj({"mode": {"enum": ["strict", "lenient"]}}),
        _obj({"mode": {"const": "strict"}}),
        'variables.mode no longer accepts values ["lenient"]',
        {"mode": "lenient"},
    ),
    (
        "additional-properties-false",
        _obj({"a": {"type": "string"}}),
        _obj({"a": {"type": "string"}}, additionalProperties=False),
        "variables no longer accepts extra properties",
        {"a": "x", "b": 1},
    ),
    (
        "property-removed-while-closed",
        _obj({"a": {}, "b": {}}, additionalProperties=False),
        _obj({"a": {}}, additionalProperties=False),
        "variables.b was removed and additionalProperties is false",
        {"b": 1},
    ),
    (
        "min-length-raised",
        _obj({"name": {"type": "string", "minLength": 1}}),
        _obj({"name": {"type": "string", "minLength": 3}}),
        "variables.name minLength raised to 3 (was 1)",
        {"name": "ab"},
    ),
    (
        "minimum-added",
        _obj({"n": {"type": "integer"}}),
        _obj({"n": {"type": "integer", "minimum": 0}}),
        "variables.n minimum raised to 0",
        {"n": -1},
    ),
    (
        "min-items-raised",
        _obj({"tags": {"type": "array", "minItems": 0}}),
        _obj({"tags": {"type": "array", "minItems": 1}}),
        "variables.tags minItems raised to 1",
        {"tags": []},
    ),
    (
        "max-length-lowered",
        _obj({"name": {"type": "string", "maxLength": 100}}),
        _obj({"name": {"type": "string", "maxLength": 10}}),
        "variables.name maxLength lowered to 10 (was 100)",
        {"name": "x" * 50},
    ),
    (
        "maximum-lowered",
        _obj({"n": {"type": "integer", "maximum": 10}}),
        _obj({"n": {"type": "integer", "maximum": 5}}),
        "variables.n maximum lowered to 5",
        {"n": 7},
    ),
    (
        "max-items-added",
        _obj({"tags": {"type": "array"}}),
        _obj({"tags": {"type": "array", "maxItems": 2}}),
        "variables.tags maxItems lowered to 2",
        {"tags": [1, 2, 3]},
    ),
    (
        "pattern-added",
        _obj({"sku": {"type": "string"}}),
        _obj({"sku": {"type": "string", "pattern": "^[A-Z]+$"}}),
        "variables.sku must now match pattern",
        {"sku": "abc"},
    ),
    (
        "pattern-changed",
        _obj({"sku": {"type": "string", "pattern": "^[A-Z]+$"}}),
        _obj({"sku": {"type": "string", "pattern": "^[A-Z]{3}$"}}),
        "(was '^[A-Z]+$')",
        {"sku": "ABCD"},
    ),
    (
        "nested-object",
        _obj({"customer": _obj({"email": {"type": "string"}})}),
        _obj({"customer": _obj({"email": {"type": "string"}}, required=["email"])}),
        "variables.customer.email is now required",
        {"customer": {}},
    ),
    (
        "array-items",
        _obj({"tags": {"type": "array", "items": {"type": "string"}}}),
        _obj({"tags": {"type": "array", "items": {"type": "string", "maxLength": 5}}}),
        "variables.tags[] maxLength lowered to 5",
        {"tags": ["much-too-long"]},
    ),
    (
        "items-of-objects",
        _obj({"lines": {"type": "array", "items": _obj({"sku": {}})}}),
        _obj({"lines": {"type": "array", "items": _obj({"sku": {}}, required=["sku"])}}),
        "variables.lines[].sku is now required",
        {"lines": [{}]},
    ),
    (
        "additional-properties-schema",
        {"type": OBJ},
        {"type": OBJ, "additionalProperties": {"type": "string"}},
        "variables.* is now restricted to type string",
        {"x": 1},
    ),
    (
        "property-schema-false",
        _obj({"legacy": {}}),
        _obj({"legacy": False}),
        "variables.legacy is no longer accepted",
        {"legacy": 1},
    ),
    (
        "composition-flagged",
        _obj({"id": {}}),
        _obj({"id": {"anyOf": [{"type": "string"}, {"type": "integer"}]}}),
        "variables.id anyOf changed",
        {"id": None},
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "reason", "sample"),
    [case[1:] for case in BREAKING],
    ids=[case[0] for case in BREAKING],
)
def test_breaking_variables(old: Any, new: Any, reason: str, sample: dict[str, Any]) -> None:
    # The sample proves the change really is breaking, independent of diff.py.
    if old is not None:
        assert Draft202012Validator(old).is_valid(sample)
    assert not Draft202012Validator(new).is_valid(sample)
    diff = diff_bundles(_spec(variables_schema=old), _spec(variables_schema=new))
    assert any(reason in r for r in diff.breaking_variables), diff.breaking_variables
    if old is None:
        assert "had no schema before" in diff.breaking_variables[0]


BASE = _obj(
    {
        "customer_name": {"type": "string", "maxLength": 10, "minLength": 2},
        "tier": {"enum": ["gold", "silver"]},
        "qty": {"type": "integer", "minimum": 1, "maximum": 10},
        "note": {"type": "string", "pattern": "^[a-z]+$"},
    },
    required=["customer_name", "tier"],
    additionalProperties=False,
)


def _relax(path: list[str], key: str, value: Any = ...) -> dict[str, Any]:
    schema = copy.deepcopy(BASE)
    target = schema
    for part in path:
        target = target[part]
    if value is ...:
        del target[key]
    else:
        target[key] = value
    return schema


RELAXED: list[tuple[str, Any]] = [
    ("required-removed", _relax([], "required", ["customer_name"])),
    ("enum-widened", _relax(["properties", "tier"], "enum", ["gold", "silver", "bronze"])),
    ("max-length-raised", _relax(["properties", "customer_name"], "maxLength", 50)),
    ("min-length-lowered", _relax(["properties", "customer_name"], "minLength", 1)),
    ("maximum-removed", _relax(["properties", "qty"], "maximum")),
    ("minimum-lowered", _relax(["properties", "qty"], "minimum", 0)),
    ("integer-to-number", _relax(["properties", "qty"], "type", "number")),
    ("type-gains-null", _relax(["properties", "note"], "type", ["string", "null"])),
    ("pattern-removed", _relax(["properties", "note"], "pattern")),
    ("additional-properties-opened", _relax([], "additionalProperties", True)),
    ("property-added-optional", _relax(["properties"], "extra", {"type": "string"})),
    ("schema-removed", None),
]


@pytest.mark.parametrize("new", [case[1] for case in RELAXED], ids=[case[0] for case in RELAXED])
def test_relaxations_are_not_breaking(new: Any) -> None:
    diff = diff_bundles(_spec(variables_schema=BASE), _spec(variables_schema=new))
    assert diff.breaking_variables == []
    assert not diff.is_empty  # still reported as a change


def test_adding_a_property_to_a_closed_schema_is_not_breaking_but_typing_an_open_one_is() -> None:
    closed = _relax(["properties"], "extra", {"type": "string"})
    assert (
        diff_bundles(
            _spec(variables_schema=BASE), _spec(variables_schema=closed)
        ).breaking_variables
        == []
    )
    open_old = _relax([], "additionalProperties", True)
    open_new = _relax(["properties"], "extra", {"type": "string"})
    open_new["additionalProperties"] = True
    reasons = diff_bundles(_spec(variables_schema=open_old), _spec(variables_schema=open_new))
    assert reasons.breaking_variables == ["variables.extra is now restricted to type string"]


def test_root_object_type_alone_is_not_breaking() -> None:
    diff = diff_bundles(
        _spec(), _spec(variables_schema={"type": "object", "properties": {"a": {}}})
    )
    assert diff.breaking_variables == []
