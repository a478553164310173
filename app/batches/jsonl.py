"""Reading a batch input file: JSON Lines in the OpenAI Batch shape, checked line by line.

Each line is ``{"custom_id", "method": "POST", "url", "body"}``. Every line must
call the same URL and name the same ``model`` (a batch is pinned to one bundle);
``custom_id`` is unique. Problems are gathered over the whole file and refused
together, each with its line number, so a user fixes a file in one pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from app.batches.endpoints import BatchEndpoints
from app.errors import BadRequestError

# Problems named in one refusal; the rest are counted.
MAX_PROBLEMS = 20


class BatchFileInvalid(BadRequestError):
    code = "invalid_batch_file"

    def __init__(self, problems: list[tuple[int, str]], more: int = 0) -> None:
        self.problems = problems
        listed = "; ".join(f"line {line}: {text}" for line, text in problems)
        tail = f"; and {more} more" if more else ""
        super().__init__(f"the batch file is refused: {listed}{tail}", param="file")


@dataclass(frozen=True, slots=True)
class InputLine:
    line: int  # 1-based, as an editor shows it
    custom_id: str
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class InputFile:
    endpoint: str
    model: str
    lines: list[InputLine]


def parse_input(content: bytes, endpoints: BatchEndpoints, *, max_lines: int) -> InputFile:
    """The file's lines, or ``BatchFileInvalid`` naming every bad line (blank lines skipped)."""
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BatchFileInvalid([(_line_of(content, exc.start), "not UTF-8 text")]) from exc
    problems: list[tuple[int, str]] = []
    lines: list[InputLine] = []
    seen: dict[str, int] = {}
    first: tuple[str, str] | None = None  # (url, model) of the first good line
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            item = _read_line(raw, endpoints)
        except ValueError as exc:
            problems.append((number, str(exc)))
            continue
        custom_id, url, body = item
        if custom_id in seen:
            problems.append((number, f"custom_id {custom_id!r} repeats line {seen[custom_id]}"))
            continue
        seen[custom_id] = number
        if first is None:
            first = (url, body["model"])
        elif url != first[0]:
            problems.append((number, f"url {url!r} differs from the file's {first[0]!r}"))
            continue
        elif body["model"] != first[1]:
            problems.append(
                (number, f"model {body['model']!r} differs from the file's {first[1]!r}")
            )
            continue
        lines.append(InputLine(number, custom_id, body))
    if not problems and len(lines) > max_lines:
        problems.append((lines[max_lines].line, f"more than {max_lines} requests in one file"))
    if not problems and not lines:
        raise BadRequestError("the batch file has no requests", param="file")
    if problems:
        raise BatchFileInvalid(problems[:MAX_PROBLEMS], max(0, len(problems) - MAX_PROBLEMS))
    assert first is not None
    return InputFile(first[0], first[1], lines)


def _read_line(raw: str, endpoints: BatchEndpoints) -> tuple[str, str, dict[str, Any]]:
    try:
        item = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc})") from None
    if not isinstance(item, dict):
        raise ValueError("a line must be a JSON object")
    custom_id = item.get("custom_id")
    if not isinstance(custom_id, str) or not custom_id or len(custom_id) > 512:
        raise ValueError("'custom_id' must be a non-empty string of at most 512 characters")
    if item.get("method") != "POST":
        raise ValueError("'method' must be \"POST\"")
    url = item.get("url")
    endpoint = endpoints.get(url) if isinstance(url, str) else None
    if endpoint is None:
        raise ValueError(f"'url' must be one of {', '.join(sorted(endpoints))}, not {url!r}")
    body = item.get("body")
    if not isinstance(body, dict):
        raise ValueError("'body' must be a JSON object")
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise ValueError("'body.model' is required: an alias or a bundle reference")
    if body.get("stream"):
        raise ValueError("'body.stream' is not supported in a batch")
    try:
        endpoint.check(body)
    except BadRequestError as exc:
        raise ValueError(f"body: {exc.message}") from None
    assert isinstance(url, str)
    return custom_id, url, body


def _line_of(content: bytes, offset: int) -> int:
    return content.count(b"\n", 0, offset) + 1
