"""Blocking HTTP helpers for set-up and readiness checks, loopback only, no proxies."""

from __future__ import annotations

import urllib.error
import urllib.request

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def request(
    method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    """(status, body); status 0 when nothing answered."""
    if not url.startswith(("http://127.", "http://localhost")):
        raise ValueError(f"the benchmark only talks to loopback, not {url}")
    sent = {"content-type": "application/json", **(headers or {})}
    req = urllib.request.Request(url, data=body, headers=sent, method=method)
    try:
        with _OPENER.open(req, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0, b""


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    return request("GET", url, None, headers)


def post(url: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    return request("POST", url, body, headers)


def put(url: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    return request("PUT", url, body, headers)
