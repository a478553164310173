"""What changed between two bundle versions, and whether callers will notice.

Works on ``BundleSpec.canonical_dict()`` output so it can compare any two
stored versions without re-validating them. Three views: field-level changes,
unified diffs of the prompt templates (and of retrieval documents), and the reasons the new
``variables_schema`` would reject variables the old one accepted (the part of
a rollout that breaks clients rather than just changing answers).
"""

from __future__ import annotations

import difflib
import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

ChangeKind = Literal["added", "removed", "changed"]

_SCALARS = ("name", "kind", "model", "allow_floating", "timeout_s")
_KEYED = ("params", "retrieval", "metadata")
_WHOLE = ("fallbacks", "output_schema", "variables_schema")
_HANDLED = {*_SCALARS, *_KEYED, *_WHOLE, "client_params", "guardrails", "prompt"}
_EMPTY: tuple[Any, ...] = (None, [], {})

# Lower bounds that break when raised, upper bounds that break when lowered.
_LOWER = ("minLength", "minimum", "exclusiveMinimum", "minItems", "minProperties")
_UPPER = ("maxLength", "maximum", "exclusiveMaximum", "maxItems", "maxProperties")
# Keywords not analysed: any change is flagged so a human looks at it.
_OPAQUE: tuple[str, ...] = ("$ref", "allOf", "anyOf", "oneOf", "not", "if", "then", "else")
_OPAQUE += ("prefixItems", "patternProperties", "propertyNames", "dependentRequired")
_OPAQUE += ("dependentSchemas", "contains", "minContains", "maxContains")


@dataclass(frozen=True, slots=True)
class FieldChange:
    path: str
    kind: ChangeKind
    before: Any
    after: Any


@dataclass(frozen=True, slots=True)
class TemplateDiff:
    label: str
    unified: str


@dataclass(slots=True)
class BundleDiff:
    changes: list[FieldChange] = field(default_factory=list)
    templates: list[TemplateDiff] = field(default_factory=list)
    breaking_variables: list[str] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not (self.changes or self.templates or self.breaking_variables)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready body for the API; the caller adds ``from``/``to``."""
        return {
            "changes": [asdict(change) for change in self.changes],
            "templates": [asdict(template) for template in self.templates],
            "breaking_variables": list(self.breaking_variables),
        }


def diff_bundles(old: dict[str, Any], new: dict[str, Any]) -> BundleDiff:
    """Compare two canonical spec dicts (old first)."""
    changes: list[FieldChange] = []
    for key in _SCALARS + _WHOLE:
        _whole(changes, key, old.get(key), new.get(key))
    for key in _KEYED:
        _keyed(changes, key, _without_documents(old.get(key)), _without_documents(new.get(key)))
    old_cp, new_cp = set(old.get("client_params") or []), set(new.get("client_params") or [])
    changes += [
        FieldChange(f"client_params.{p}", "added", None, p) for p in sorted(new_cp - old_cp)
    ]
    changes += [
        FieldChange(f"client_params.{p}", "removed", p, None) for p in sorted(old_cp - new_cp)
    ]
    old_g, new_g = old.get("guardrails") or {}, new.get("guardrails") or {}
    for stage in ("input", "output"):
        _guardrails(changes, f"guardrails.{stage}", old_g.get(stage) or [], new_g.get(stage) or [])
    for key in sorted((old.keys() | new.keys()) - _HANDLED):  # fields added to the spec later
        _whole(changes, key, old.get(key), new.get(key))
    return BundleDiff(
        changes=changes,
        templates=_templates(old.get("prompt") or {}, new.get("prompt") or {})
        + _documents(old.get("retrieval"), new.get("retrieval")),
        breaking_variables=breaking_variable_changes(
            old.get("variables_schema"), new.get("variables_schema")
        ),
    )


def _whole(out: list[FieldChange], path: str, before: Any, after: Any) -> None:
    if before == after:
        return
    if before in _EMPTY and after not in _EMPTY:
        out.append(FieldChange(path, "added", before, after))
    elif after in _EMPTY and before not in _EMPTY:
        out.append(FieldChange(path, "removed", before, after))
    else:
        out.append(FieldChange(path, "changed", before, after))


def _keyed(out: list[FieldChange], path: str, before: Any, after: Any) -> None:
    """Per-key changes when both sides are dicts; otherwise the whole value."""
    if not (isinstance(before, dict) and isinstance(after, dict)):
        _whole(out, path, before, after)
        return
    for key in sorted(before.keys() | after.keys()):
        if key not in after:
            out.append(FieldChange(f"{path}.{key}", "removed", before[key], None))
        elif key not in before:
            out.append(FieldChange(f"{path}.{key}", "added", None, after[key]))
        elif before[key] != after[key]:
            out.append(FieldChange(f"{path}.{key}", "changed", before[key], after[key]))


def _guardrails(out: list[FieldChange], path: str, before: list[Any], after: list[Any]) -> None:
    """Match entries by label (``name``, else ``type``) when unambiguous, else by position."""
    old_types, new_types = _types(before), _types(after)
    if old_types is None or new_types is None:
        _keyed(out, path, dict(enumerate(before)), dict(enumerate(after)))
        return
    _keyed(
        out,
        path,
        dict(zip(old_types, before, strict=True)),
        dict(zip(new_types, after, strict=True)),
    )
    common_old = [t for t in old_types if t in new_types]
    common_new = [t for t in new_types if t in old_types]
    if common_old != common_new:  # guardrails run in order, so reordering matters
        out.append(FieldChange(f"{path}.order", "changed", old_types, new_types))


def _types(entries: list[Any]) -> list[str] | None:
    types = [(e.get("name") or e.get("type")) if isinstance(e, dict) else None for e in entries]
    if all(isinstance(t, str) for t in types) and len(set(types)) == len(types):
        return [str(t) for t in types]
    return None


def _templates(old: dict[str, Any], new: dict[str, Any]) -> list[TemplateDiff]:
    found = _template_diff("prompt.system", old.get("system"), new.get("system"))
    result = [found] if found else []
    old_msgs, new_msgs = old.get("messages") or [], new.get("messages") or []
    for i in range(max(len(old_msgs), len(new_msgs))):
        before = _message_text(old_msgs[i]) if i < len(old_msgs) else None
        after = _message_text(new_msgs[i]) if i < len(new_msgs) else None
        found = _template_diff(f"prompt.messages[{i}]", before, after)
        if found:
            result.append(found)
    return result


def _without_documents(value: Any) -> Any:
    """Retrieval documents are diffed as text (below), not as one opaque list."""
    if isinstance(value, dict) and isinstance(value.get("documents"), list):
        return {k: v for k, v in value.items() if k != "documents"}
    return value


def _documents(old: Any, new: Any) -> list[TemplateDiff]:
    """One unified diff per added, removed or edited retrieval document, by source."""
    before, after = _document_texts(old), _document_texts(new)
    found = (
        _template_diff(f"retrieval.documents[{source}]", before.get(source), after.get(source))
        for source in sorted(before.keys() | after.keys())
    )
    return [diff for diff in found if diff]


def _document_texts(retrieval: Any) -> dict[str, str]:
    documents = retrieval.get("documents") if isinstance(retrieval, dict) else None
    if not isinstance(documents, list):
        return {}
    return {
        str(d.get("source")): str(d.get("text", ""))
        for d in documents
        if isinstance(d, dict) and "source" in d
    }


def _message_text(message: dict[str, Any]) -> str:
    return f"[{message.get('role')}]\n{message.get('content', '')}"


def _template_diff(label: str, before: str | None, after: str | None) -> TemplateDiff | None:
    """Split on "\\n" only, so a trailing newline shows as an added empty line."""
    if before == after:
        return None
    lines = difflib.unified_diff(
        [] if before is None else before.split("\n"),
        [] if after is None else after.split("\n"),
        fromfile="/dev/null" if before is None else f"a/{label}",
        tofile="/dev/null" if after is None else f"b/{label}",
        lineterm="",
    )
    return TemplateDiff(label, "\n".join(lines) + "\n")


def breaking_variable_changes(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[str]:
    """Why ``new`` would reject variables ``old`` accepted (no schema accepts anything)."""
    reasons: list[str] = []
    _compare(old or {}, new or {}, "variables", reasons)
    if reasons and not old:
        reasons.insert(
            0, "variables had no schema before; the new variables_schema adds constraints"
        )
    return reasons


def _compare(old: Any, new: Any, path: str, out: list[str]) -> None:
    if old is False or new is True:
        return  # nothing was accepted before, or everything is accepted now
    if new is False:
        out.append(f"{path} is no longer accepted (schema is false)")
        return
    old = old if isinstance(old, dict) else {}
    if not isinstance(new, dict):
        return
    _compare_type(old, new, path, out)
    _compare_values(old, new, path, out)
    for key in _LOWER:
        if key in new and (key not in old or new[key] > old[key]):
            was = f" (was {old[key]})" if key in old else ""
            out.append(f"{path} {key} raised to {new[key]}{was}")
    for key in _UPPER:
        if key in new and (key not in old or new[key] < old[key]):
            was = f" (was {old[key]})" if key in old else ""
            out.append(f"{path} {key} lowered to {new[key]}{was}")
    if "pattern" in new and new["pattern"] != old.get("pattern"):
        was = f" (was {old['pattern']!r})" if "pattern" in old else ""
        out.append(f"{path} must now match pattern {new['pattern']!r}{was}")
    if new.get("uniqueItems") is True and old.get("uniqueItems") is not True:
        out.append(f"{path} items must now be unique")
    for key in _OPAQUE:
        if new.get(key) != old.get(key) and key in new:
            out.append(f"{path} {key} changed (not analysed; may reject previously valid input)")
    _compare_object(old, new, path, out)
    if isinstance(new.get("items"), dict | bool):
        _compare(old.get("items", True), new["items"], f"{path}[]", out)


def _compare_type(old: dict[str, Any], new: dict[str, Any], path: str, out: list[str]) -> None:
    new_types = _type_set(new)
    if new_types is None or (path == "variables" and new_types == {"object"}):
        return  # variables are always an object, so saying so rejects nothing
    old_types = _type_set(old)
    if old_types is None:
        out.append(f"{path} is now restricted to type {_fmt(new_types)}")
        return
    lost = {t for t in old_types if not _within(t, new_types)}
    if lost:
        verb = "narrowed" if all(_within(t, old_types) for t in new_types) else "changed"
        out.append(
            f"{path} type {verb} from {_fmt(old_types)} to {_fmt(new_types)} "
            f"(no longer accepts {_fmt(lost)})"
        )


def _within(type_: str, types: set[str]) -> bool:
    return type_ in types or (type_ == "integer" and "number" in types)


def _type_set(schema: dict[str, Any]) -> set[str] | None:
    value = schema.get("type")
    if value is None:
        return None
    return {value} if isinstance(value, str) else set(value)


def _fmt(types: set[str]) -> str:
    ordered = sorted(types)
    return ordered[0] if len(ordered) == 1 else "[" + ", ".join(ordered) + "]"


def _compare_values(old: dict[str, Any], new: dict[str, Any], path: str, out: list[str]) -> None:
    """``enum`` and ``const`` as one allowed-values set (compared as JSON, so 1 != true)."""
    new_allowed = _allowed(new)
    if new_allowed is None:
        return
    old_allowed = _allowed(old)
    shown = ", ".join(sorted(new_allowed))
    if old_allowed is None:
        which = "const" if "const" in new else "enum"
        out.append(f"{path} is now limited to {which} [{shown}]")
    elif lost := sorted(old_allowed - new_allowed):
        out.append(f"{path} no longer accepts values [{', '.join(lost)}] (now [{shown}])")


def _allowed(schema: dict[str, Any]) -> set[str] | None:
    if "const" in schema:
        return {json.dumps(schema["const"], sort_keys=True)}
    if isinstance(schema.get("enum"), list):
        return {json.dumps(value, sort_keys=True) for value in schema["enum"]}
    return None


def _compare_object(old: dict[str, Any], new: dict[str, Any], path: str, out: list[str]) -> None:
    for name in sorted(set(new.get("required") or []) - set(old.get("required") or [])):
        out.append(f"{path}.{name} is now required")
    old_extra, new_extra = (
        old.get("additionalProperties", True),
        new.get("additionalProperties", True),
    )
    old_props, new_props = old.get("properties") or {}, new.get("properties") or {}
    if new_extra is False and old_extra is not False:
        out.append(f"{path} no longer accepts extra properties (additionalProperties is now false)")
    if new_extra is not False and new_extra is not True:
        _compare(old_extra, new_extra, f"{path}.*", out)
    for name in sorted(old_props.keys() - new_props.keys()):
        # A property no longer named is now judged by the new additionalProperties.
        if new_extra is False and old_props[name] is not False:
            out.append(f"{path}.{name} was removed and additionalProperties is false")
        elif new_extra is not False:
            _compare(old_props[name], new_extra, f"{path}.{name}", out)
    for name in sorted(new_props):
        # A property the old schema did not name was judged by its additionalProperties.
        _compare(old_props.get(name, old_extra), new_props[name], f"{path}.{name}", out)
