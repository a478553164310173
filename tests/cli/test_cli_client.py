"""AdminClient: headers, error mapping and exit codes (2 for 4xx, 3 for 5xx/unreachable)."""

from __future__ import annotations

import contextlib
import getpass
import json
import socket
from collections.abc import Callable

import httpx
import pytest
from starlette.testclient import TestClient

from app.cli import admin_client as cli_client
from app.cli.admin_client import actor as real_actor  # before the autouse fixture replaces it
from tests.cli.helpers import Invoke


def _use(
    monkeypatch: pytest.MonkeyPatch, handler: Callable[[httpx.Request], httpx.Response]
) -> None:
    http = httpx.Client(transport=httpx.MockTransport(handler), base_url="http://gateway.test")
    monkeypatch.setattr(
        cli_client, "open_http_client", lambda base_url: contextlib.nullcontext(http)
    )


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_sends_token_and_actor(invoke: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"data": []})

    _use(monkeypatch, handler)
    result = invoke("bundle", "list", "support-chat", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"data": []}
    (request,) = seen
    assert request.headers["authorization"] == "Bearer test-admin-token-123456"
    assert request.headers["x-pinyard-actor"] == "alice"
    assert request.url.params["name"] == "support-chat"


def test_actor_falls_back_silently(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> str:
        raise OSError("no user name")

    monkeypatch.setattr(getpass, "getuser", broken)
    assert real_actor() is None
    monkeypatch.setattr(getpass, "getuser", lambda: "bob")
    assert real_actor() == "bob"


def test_wrong_token_exits_2(
    invoke: Invoke, server: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PINYARD_ADMIN_TOKEN", "not-the-right-token-at-all")
    result = invoke("bundle", "list")
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: invalid admin token"


def test_missing_token_exits_2(
    invoke: Invoke, server: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PINYARD_ADMIN_TOKEN")
    result = invoke("audit", "verify")
    assert result.exit_code == 2
    assert "missing admin token" in result.stderr


def test_unreachable_server_exits_3(invoke: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    monkeypatch.setenv("PINYARD_URL", url)
    result = invoke("audit", "verify")
    assert result.exit_code == 3
    assert url in result.stderr and "PINYARD_URL" in result.stderr


def test_server_error_exits_3(invoke: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    envelope = {
        "error": {
            "message": "the registry database is unavailable",
            "type": "api_error",
            "param": None,
            "code": "service_unavailable",
        }
    }
    _use(monkeypatch, lambda request: httpx.Response(503, json=envelope))
    result = invoke("alias", "show", "dev", "support-chat")
    assert result.exit_code == 3
    assert "503" in result.stderr and "PINYARD_URL" in result.stderr
    assert "the registry database is unavailable" in result.stderr


def test_non_envelope_4xx_and_non_json_2xx(invoke: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    _use(monkeypatch, lambda request: httpx.Response(404, text="<html>nope</html>"))
    not_found = invoke("requests", "show", "abc")
    assert not_found.exit_code == 2
    assert "HTTP 404 Not Found" in not_found.stderr

    _use(monkeypatch, lambda request: httpx.Response(200, text="hello"))
    weird = invoke("requests", "show", "abc")
    assert weird.exit_code == 3
    assert "without JSON" in weird.stderr


def test_bad_url_exits_2(invoke: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PINYARD_URL", "ftp://example.org")
    result = invoke("audit", "verify")
    assert result.exit_code == 2
    assert "PINYARD_URL must be an http(s) URL" in result.stderr


def test_path_segments_are_encoded(invoke: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.raw_path.decode())
        return httpx.Response(200, json={"id": "a/b?c"})

    _use(monkeypatch, handler)
    assert invoke("requests", "show", "a/b?c").exit_code == 0
    assert seen == ["/admin/requests/a%2Fb%3Fc"]
