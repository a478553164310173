"""Minimal instances of JSON Schemas validate against them."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from app.providers.schema_instance import minimal_instance

TREE = {
    "$defs": {
        "Node": {
            "type": "object",
            "properties": {
                "value": {"type": "integer"},
                "child": {"anyOf": [{"$ref": "#/$defs/Node"}, {"type": "null"}]},
                "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
            },
            "required": ["value", "child", "children"],
        }
    },
    "$ref": "#/$defs/Node",
}


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "string"},
        {"type": "string", "minLength": 3, "maxLength": 4},
        {"type": "string", "format": "date-time"},
        {"type": "integer", "minimum": 5, "maximum": 9},
        {"type": "integer", "exclusiveMinimum": 0},
        {"type": "number", "maximum": -2.5},
        {"type": "boolean"},
        {"type": ["null", "string"]},
        {"const": "fixed"},
        {"enum": [3, 4]},
        {"type": "array", "items": {"type": "integer"}, "minItems": 2},
        {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}]},
        {"oneOf": [{"type": "string"}, {"type": "object"}]},
        {
            "allOf": [
                {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
                {"properties": {"b": {"type": "integer", "minimum": 2}}, "required": ["b"]},
            ]
        },
        {"type": "object", "properties": {"x": {"type": "object", "properties": {}}}},
        TREE,
    ],
)
def test_instance_validates(schema: dict[str, Any]) -> None:
    jsonschema.validate(minimal_instance(schema), schema)


def test_objects_carry_all_properties_when_shallow() -> None:
    schema = {
        "type": "object",
        "properties": {"req": {"type": "string"}, "opt": {"type": "integer"}},
        "required": ["req"],
    }
    assert minimal_instance(schema) == {"req": "", "opt": 0}


def test_recursion_terminates() -> None:
    instance = minimal_instance(TREE)
    depth = 0
    while instance is not None:
        depth += 1
        instance = instance["child"]
    assert 1 < depth < 10
