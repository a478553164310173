"""One line of a batch's output or error file, in the OpenAI Batch shape.

``response.headers`` carries the lineage headers the line's answer had
(``x-pinyard-bundle``, ``x-pinyard-bundle-digest``, ``x-pinyard-request-id``,
...), so each output line says which system version produced it.
"""

from __future__ import annotations

import secrets
from typing import Any

import orjson

from app.batches.endpoints import RowResult

EXPIRED = {
    "code": "batch_expired",
    "message": "This request could not be executed before the completion window expired.",
}


def output_line(custom_id: str, result: RowResult) -> str:
    error = None
    if not result.ok:
        inner = result.body.get("error") if isinstance(result.body, dict) else None
        inner = inner if isinstance(inner, dict) else {}
        error = {"code": inner.get("code"), "message": inner.get("message")}
    return _dump(
        {
            "id": _line_id(result.request_id),
            "custom_id": custom_id,
            "response": {
                "status_code": result.status_code,
                "request_id": result.request_id,
                "headers": result.headers,
                "body": result.body,
            },
            "error": error,
        }
    )


def expired_line(custom_id: str) -> str:
    return _dump({"id": _line_id(""), "custom_id": custom_id, "response": None, "error": EXPIRED})


def _line_id(request_id: str) -> str:
    return "batch_req_" + (request_id.removeprefix("req_") or secrets.token_hex(16))


def _dump(value: dict[str, Any]) -> str:
    return orjson.dumps(value).decode()
