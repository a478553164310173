"""Structured logs: JSON lines, and the request id on every line about a request."""

from __future__ import annotations

import io
import logging
import logging.config
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from app.telemetry.logging import (
    JsonFormatter,
    RequestIdFilter,
    current_request_id,
    log_config,
)
from tests.conftest import fake_spec, push, set_alias


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """A JSON handler, as ``pinyard serve`` installs it, on the root logger."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield stream
    finally:
        root.removeHandler(handler)


def _lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in stream.getvalue().splitlines()]


def test_a_json_line_has_time_level_logger_message_and_extras(captured: io.StringIO) -> None:
    log = logging.getLogger("pinyard.test")
    token = current_request_id.set("req_abc")
    try:
        log.warning("hello %s", "there", extra={"alias": "support-chat"})
    finally:
        current_request_id.reset(token)
    log.warning("outside a request")
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("it failed")
    first, second, third = _lines(captured)
    assert first["message"] == "hello there" and first["level"] == "warning"
    assert first["logger"] == "pinyard.test" and first["time"].endswith("+00:00")
    assert first["request_id"] == "req_abc" and first["alias"] == "support-chat"
    assert "request_id" not in second
    assert "ValueError: boom" in third["exception"]


def test_access_lines_carry_method_path_and_status() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "POST", "/v1/chat/completions", "1.1", 200),
        None,
    )
    line = orjson.loads(JsonFormatter().format(record))
    assert (line["method"], line["path"], line["status"]) == ("POST", "/v1/chat/completions", 200)
    assert line["message"] == '127.0.0.1:5 - "POST /v1/chat/completions HTTP/1.1" 200'


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_the_serve_configuration_applies(log_format: str) -> None:
    config = log_config(log_format, "WARNING")
    stream = io.StringIO()
    config["handlers"]["stderr"] = {**config["handlers"]["stderr"], "stream": stream}
    touched = [
        logging.getLogger(name) for name in ("", "uvicorn", "uvicorn.error", "uvicorn.access")
    ]
    saved = [(lg.handlers[:], lg.level, lg.propagate) for lg in touched]
    try:
        logging.config.dictConfig(config)
        token = current_request_id.set("req_xyz")
        logging.getLogger("uvicorn.error").warning("through uvicorn's logger")
        current_request_id.reset(token)
    finally:
        for lg, (handlers, level, propagate) in zip(touched, saved, strict=True):
            lg.handlers[:], lg.propagate = handlers, propagate
            lg.setLevel(level)
    output = stream.getvalue()
    assert "through uvicorn's logger" in output and "req_xyz" in output
    if log_format == "json":
        assert orjson.loads(output)["request_id"] == "req_xyz"


async def test_log_lines_emitted_while_serving_a_request_carry_its_id(
    admin: httpx.AsyncClient, captured: io.StringIO
) -> None:
    await push(admin, fake_spec("lite"))
    await push(admin, fake_spec("broken", model="fake/error-500", fallbacks=["lite@1"]))
    await set_alias(admin, "dev", "broken", "broken@1")
    response = await admin.post(
        "/v1/chat/completions",
        json={
            "model": "broken",
            "messages": [{"role": "user", "content": "hi"}],
            "variables": {"customer_name": "Ada"},
        },
    )
    assert response.status_code == 200 and response.headers["x-pinyard-route"] == "fallback"
    fallback = [line for line in _lines(captured) if line["logger"] == "pinyard.fallback"]
    assert fallback, captured.getvalue()
    assert {line.get("request_id") for line in fallback} == {
        response.headers["x-pinyard-request-id"]
    }
