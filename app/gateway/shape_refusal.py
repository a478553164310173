"""A pydantic ``ValidationError`` on a request body, worded as OpenAI words a 400.

``param`` is the field's path in the body as OpenAI writes it
(``messages[0].content[1].image_url.url``), never pydantic's internal location
with its union tags; the message says what was wrong or what would have been
accepted.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from app.errors import BadRequestError

_JSON_NAMES = {
    "string_type": "a string",
    "int_type": "an integer",
    "float_type": "a number",
    "bool_type": "a boolean",
    "list_type": "an array",
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
    "none_required": "null",
}


def refusal(exc: ValidationError, body: Any) -> BadRequestError:
    """The most specific problem as OpenAI words it: ``param`` is its path in the body.

    Alternatives of a union each report an error; the one that got furthest into
    the body names the real problem. When several fail at the same place (``stop: 7``
    is neither a string nor an array) the message lists what would have been accepted.
    """
    errors = [(_param(e, body), e) for e in exc.errors()]
    constrained = {p for p, e in errors if e["type"] not in _JSON_NAMES}
    param = max((p for p, _ in errors), key=lambda p: (_depth(p), p in constrained))
    here = [e for p, e in errors if p == param]
    # An alternative of the right type that breaks a constraint is the one meant.
    meant = [e for e in here if e["type"] not in _JSON_NAMES]
    here = meant[:1] if meant and len(meant) < len(here) else here
    if len(here) == 1:
        problem = _wording(here[0])
    else:
        problem = "must be " + " or ".join(dict.fromkeys(_expected(e) for e in here))
    return BadRequestError(f"Invalid '{param}': {problem}", param=param)


def _param(error: Any, body: Any) -> str:
    """The error's ``loc`` walked through the body: steps not in it are union tags, skipped."""
    loc, kind = error["loc"], error["type"]
    path: list[int | str] = []
    node = body
    for i, step in enumerate(loc):
        if _has(node, step):
            node = node[step]
        elif not (kind == "missing" and i == len(loc) - 1):  # else: the absent field itself
            continue
        path.append(step)
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        path.append(str(error["ctx"]["discriminator"]).strip("'"))  # messages[0].role
    return "".join(f"[{s}]" if isinstance(s, int) else f".{s}" for s in path).lstrip(".")


def _has(node: Any, step: int | str) -> bool:
    if isinstance(node, dict):
        return isinstance(step, str) and step in node
    return isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node)


def _depth(param: str) -> int:
    return param.count(".") + param.count("[")


def _expected(error: Any) -> str:
    kind = error["type"]
    if kind in _JSON_NAMES:
        return str(_JSON_NAMES[kind])
    return _wording(error).removeprefix("must be ")


def _wording(error: Any) -> str:
    kind, message = error["type"], str(error["msg"])
    if kind in ("missing", "union_tag_not_found"):
        return "this field is required"
    ctx = error.get("ctx", {})
    if kind in ("too_short", "string_too_short"):
        least = ctx.get("min_length", 1)
        return "must not be empty" if least == 1 else f"must have at least {least} items"
    if kind in ("too_long", "string_too_long"):
        unit = "characters" if kind == "string_too_long" else "items"
        return f"must have at most {ctx.get('max_length')} {unit}"
    if kind in _JSON_NAMES:
        return "must be " + _JSON_NAMES[kind]
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "union_tag_invalid":
        return f"must be one of {ctx.get('expected_tags', '')}"
    message = message.removeprefix("Value error, ")
    if message.startswith("Input should be "):
        return "must be " + message.removeprefix("Input should be ")
    return message[:1].lower() + message[1:]
