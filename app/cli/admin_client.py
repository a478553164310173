"""``AdminClient``: the CLI's only way to change state, through the admin API.

Going through HTTP (not the database) means CLI changes are authorised and
audited exactly like any other client's. The server is ``PINYARD_URL``
(default ``http://127.0.0.1:8080``), the token ``PINYARD_ADMIN_TOKEN``, and the
OS user name is sent as ``x-pinyard-actor`` so the audit trail names the human
behind a shared token.

Failures become exit codes here, once: a 4xx prints ``error: <message>`` (the
OpenAI-style envelope's message) and exits 2; an unreachable server or a 5xx
names ``PINYARD_URL`` and exits 3.

Test hook: ``open_http_client(base_url)`` returns a context manager yielding
the ``httpx.Client`` to use; the default opens (and closes) a real client.
Tests replace the module attribute, e.g. with a ``TestClient`` that must
outlive one command::

    monkeypatch.setattr(app.cli.admin_client, "open_http_client",
                        lambda base_url: contextlib.nullcontext(test_client))

Requests use relative paths and per-request headers, so an injected client's
own ``base_url`` and headers are respected.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from app.cli.output import EXIT_GATE, EXIT_INFRA, EXIT_USAGE, fail

DEFAULT_URL = "http://127.0.0.1:8080"
TIMEOUT = httpx.Timeout(30.0, connect=5.0)


def _default_http_client(base_url: str) -> AbstractContextManager[httpx.Client]:
    return httpx.Client(base_url=base_url, timeout=TIMEOUT)


# Replaceable by tests (see the module docstring).
open_http_client: Callable[[str], AbstractContextManager[httpx.Client]] = _default_http_client


def server_url() -> str:
    url = os.environ.get("PINYARD_URL", "").strip() or DEFAULT_URL
    if httpx.URL(url).scheme not in ("http", "https"):
        fail(f"PINYARD_URL must be an http(s) URL, got {url!r}")
    return url.rstrip("/")


def actor() -> str | None:
    """The OS user name, or None when it cannot be determined (the server then says "admin")."""
    try:
        return getpass.getuser() or None
    except Exception:  # noqa: BLE001  (any platform failure: just don't claim a name)
        return None


def path(*segments: str | int) -> str:
    """``/admin/...`` with each segment percent-encoded (names and ids come from users)."""
    return "/" + "/".join(quote(str(segment), safe=":@") for segment in segments)


class AdminClient:
    """Use as a context manager: ``with AdminClient() as api: api.get(...)``."""

    # Where the bearer credential comes from.
    CREDENTIAL_VARIABLE = "PINYARD_ADMIN_TOKEN"

    def __init__(self, headers: dict[str, str] | None = None) -> None:
        self.url = server_url()
        sent = {"accept": "application/json"}
        token = os.environ.get(self.CREDENTIAL_VARIABLE, "").strip()
        if token:
            sent["authorization"] = f"Bearer {token}"
        name = actor()
        if name:
            sent["x-pinyard-actor"] = name
        self._headers = {**sent, **(headers or {})}
        self._manager = open_http_client(self.url)
        self._http: httpx.Client | None = None

    def __enter__(self) -> AdminClient:
        self._http = self._manager.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._manager.__exit__(exc_type, exc, tb)
        self._http = None

    def get(self, url: str, params: dict[str, Any] | None = None) -> Any:
        return self.request("GET", url, params=params)

    def post(self, url: str, body: Any = None, params: dict[str, Any] | None = None) -> Any:
        return self.request("POST", url, body=body, params=params)

    def put(self, url: str, body: Any = None) -> Any:
        return self.request("PUT", url, body=body)

    def request(
        self,
        method: str,
        url: str,
        *,
        body: Any = None,
        params: dict[str, Any] | None = None,
        files: dict[str, Any] | None = None,
        data: dict[str, str] | None = None,
        raw: bool = False,
    ) -> Any:
        """The decoded JSON answer of a 2xx (its bytes with ``raw``); else exits (2 or 3).

        ``files`` and ``data`` send a multipart form instead of a JSON body.
        """
        assert self._http is not None, "use AdminClient as a context manager"
        query = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = self._http.request(
                method,
                url,
                json=body,
                files=files,
                data=data,
                params=query or None,
                headers=self._headers,
            )
        except httpx.TransportError as exc:
            fail(
                f"cannot reach the Pinyard server at {self.url} (PINYARD_URL): "
                f"{type(exc).__name__}: {exc or 'no details'}",
                EXIT_INFRA,
            )
        if raw and response.is_success:
            return response.content
        return self._decode(response)

    def _decode(self, response: httpx.Response) -> Any:
        try:
            data: Any = response.json()
        except ValueError:
            data = None
        if response.is_success:
            if data is None:
                fail(
                    f"the server at {self.url} (PINYARD_URL) answered {response.status_code} "
                    "without JSON; is it a Pinyard gateway?",
                    EXIT_INFRA,
                )
            return data
        message = _error_message(data) or f"HTTP {response.status_code} {response.reason_phrase}"
        if response.status_code >= 500:
            fail(
                f"server error {response.status_code} from {self.url} (PINYARD_URL): {message}",
                EXIT_INFRA,
            )
        if _error_code(data) in GATE_CODES:
            fail(message, EXIT_GATE)
        fail(message, EXIT_USAGE)


class DataPlaneClient(AdminClient):
    """The same client for the data plane (``/v1/...``): the API key in ``PINYARD_API_KEY``
    (none in local mode); ``environment`` is sent as ``x-pinyard-environment`` and the
    gateway refuses it unless the key belongs there."""

    CREDENTIAL_VARIABLE = "PINYARD_API_KEY"

    def __init__(self, environment: str | None = None) -> None:
        super().__init__({"x-pinyard-environment": environment} if environment else None)


# Refusals that mean "a gate failed" (exit 1) rather than "bad input" (exit 2).
GATE_CODES = frozenset({"promotion_blocked", "model_retired"})


def _error_code(data: Any) -> str | None:
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        code = data["error"].get("code")
        return str(code) if code else None
    return None


def _error_message(data: Any) -> str | None:
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        message = data["error"].get("message")
        return str(message) if message else None
    return None
