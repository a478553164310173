"""Build a small instance of a JSON Schema, for the fake provider.

The fake provider must answer ``response_format: json_schema`` and tool calls
with JSON that a client can parse back into its own (often pydantic) model, so
the instance honours ``$ref``/``$defs``, ``anyOf``/``oneOf``/``allOf``, enums,
numeric bounds, ``minItems``/``minLength`` and common string formats.
Recursive schemas terminate by choosing ``null`` options and leaving optional
properties out once the nesting gets deep.
"""

from __future__ import annotations

import math
from typing import Any

# Past this depth optional properties are omitted and nullable options preferred.
_SHALLOW_DEPTH = 4
_MAX_DEPTH = 32

_FORMATS: dict[str, str] = {
    "date-time": "1970-01-01T00:00:00Z",
    "date": "1970-01-01",
    "time": "00:00:00Z",
    "duration": "PT0S",
    "email": "user@example.com",
    "uri": "https://example.com/",
    "url": "https://example.com/",
    "uuid": "00000000-0000-0000-0000-000000000000",
    "ipv4": "127.0.0.1",
    "ipv6": "::1",
    "hostname": "example.com",
}


def minimal_instance(schema: Any) -> Any:
    """Return a value that validates against ``schema`` (best effort for exotic keywords)."""
    return _build(schema, root=schema, depth=0)


def _build(schema: Any, *, root: Any, depth: int) -> Any:
    if depth > _MAX_DEPTH or not isinstance(schema, dict):
        return None
    if "$ref" in schema:
        return _build(_resolve(schema["$ref"], root), root=root, depth=depth + 1)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    if "allOf" in schema:
        return _build(_merge_all_of(schema, root), root=root, depth=depth + 1)
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            options = _order_options(schema[key], root, depth)
            return _build(options[0], root=root, depth=depth + 1)
    kind = _pick_type(schema, depth)
    if kind == "object":
        return _object(schema, root=root, depth=depth)
    if kind == "array":
        count = int(schema.get("minItems", 0))
        prefix = schema.get("prefixItems") or []
        items = [_build(item, root=root, depth=depth + 1) for item in prefix]
        while len(items) < count:
            items.append(_build(schema.get("items", {}), root=root, depth=depth + 1))
        return items
    if kind == "string":
        return _string(schema)
    if kind in ("integer", "number"):
        return _number(schema, integer=kind == "integer")
    if kind == "boolean":
        return False
    return None


def _resolve(ref: str, root: Any) -> Any:
    """Follow a local JSON pointer such as ``#/$defs/Item``."""
    if not ref.startswith("#"):
        return {}
    node = root
    for part in ref.lstrip("#").strip("/").split("/"):
        if not part:
            continue
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            return {}
        node = node[part]
    return node


def _merge_all_of(schema: dict[str, Any], root: Any) -> dict[str, Any]:
    merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
    for part in schema["allOf"]:
        part = _resolve(part["$ref"], root) if isinstance(part, dict) and "$ref" in part else part
        if not isinstance(part, dict):
            continue
        for key, value in part.items():
            if key == "properties":
                merged["properties"] = {**merged.get("properties", {}), **value}
            elif key == "required":
                merged["required"] = sorted({*merged.get("required", []), *value})
            else:
                merged.setdefault(key, value)
    return merged


def _is_null(option: Any) -> bool:
    return isinstance(option, dict) and option.get("type") == "null"


def _order_options(options: list[Any], root: Any, depth: int) -> list[Any]:
    """Non-null options first while shallow; the null option first once deep."""
    nulls = [o for o in options if _is_null(o)]
    others = [o for o in options if not _is_null(o)]
    return nulls + others if depth >= _SHALLOW_DEPTH and nulls else others + nulls


def _pick_type(schema: dict[str, Any], depth: int) -> str | None:
    kind = schema.get("type")
    if isinstance(kind, list):
        non_null = [k for k in kind if k != "null"]
        if "null" in kind and (depth >= _SHALLOW_DEPTH or not non_null):
            return "null"
        return non_null[0] if non_null else None
    if kind is None:
        if "properties" in schema:
            return "object"
        if "items" in schema or "prefixItems" in schema:
            return "array"
    return kind if isinstance(kind, str) else None


def _object(schema: dict[str, Any], *, root: Any, depth: int) -> dict[str, Any]:
    properties: dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", []))
    out: dict[str, Any] = {}
    for name, sub in properties.items():
        if name in required or depth < _SHALLOW_DEPTH:
            out[name] = _build(sub, root=root, depth=depth + 1)
    return out


def _string(schema: dict[str, Any]) -> str:
    value = _FORMATS.get(str(schema.get("format", "")), "")
    min_len = int(schema.get("minLength", 0))
    if len(value) < min_len:
        value += "a" * (min_len - len(value))
    if "maxLength" in schema:
        value = value[: int(schema["maxLength"])]
    return value


def _number(schema: dict[str, Any], *, integer: bool) -> int | float:
    value: float = 0
    if "minimum" in schema:
        value = max(value, schema["minimum"])
    if _is_bound(schema.get("exclusiveMinimum")):
        low = schema["exclusiveMinimum"]
        value = max(value, low + 1 if integer else low + 0.5)
    if "maximum" in schema:
        value = min(value, schema["maximum"])
    if _is_bound(schema.get("exclusiveMaximum")):
        high = schema["exclusiveMaximum"]
        if value >= high:
            value = high - 1 if integer else high - 0.5
    return math.ceil(value) if integer else float(value)


def _is_bound(value: Any) -> bool:
    """A numeric exclusive bound (draft 6+), not draft 4's boolean flag."""
    return isinstance(value, int | float) and not isinstance(value, bool)
