"""Outcome fixtures: the data plane in local mode, and helpers to declare metrics and chat."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.conftest import BASE


@pytest.fixture
async def data(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The data plane with no token (local mode until a key is created)."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client:
        yield client


async def declare(admin: httpx.AsyncClient, name: str, type_: str, **extra: Any) -> dict[str, Any]:
    body = {"name": name, "type": type_, **extra}
    if type_ != "comment":
        body.setdefault("direction", "higher")
    response = await admin.post("/admin/metrics", json=body)
    assert response.status_code in (200, 201), response.text
    metric: dict[str, Any] = response.json()
    return metric


def chat_body(text: str = "Where is my order?", **extra: Any) -> dict[str, Any]:
    return {
        "model": "support-chat",
        "messages": [{"role": "user", "content": text}],
        "variables": {"customer_name": "Ada"},
        **extra,
    }
