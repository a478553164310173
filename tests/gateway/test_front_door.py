"""The chat route's front door: served before the middleware stack, failures still answered."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import openai
import pytest

from app.gateway.chat import ChatPipeline
from tests.conftest import fake_spec, push, set_alias

VARS = {"variables": {"customer_name": "Ada"}}


async def test_an_unforeseen_failure_is_a_logged_500_in_the_openai_envelope(
    admin: httpx.AsyncClient,
    oai: openai.AsyncOpenAI,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await push(admin, fake_spec())
    await set_alias(admin, "dev", "support-chat", "support-chat@1")

    async def broken(*_: Any, **__: Any) -> None:
        raise RuntimeError("a bug in the pipeline")

    monkeypatch.setattr(ChatPipeline, "handle", broken)
    with (
        caplog.at_level(logging.ERROR, logger="pinyard"),
        pytest.raises(openai.InternalServerError) as info,
    ):
        await oai.chat.completions.create(
            model="support-chat", messages=[{"role": "user", "content": "hi"}], extra_body=VARS
        )
    assert info.value.status_code == 500
    assert info.value.code == "internal_error"
    assert "RuntimeError" in info.value.message and "a bug" not in info.value.message
    assert any(r.exc_info and "a bug in the pipeline" in str(r.exc_info[1]) for r in caplog.records)


async def test_the_chat_route_keeps_its_errors_and_other_methods(
    admin: httpx.AsyncClient,
) -> None:
    missing = await admin.post(
        "/v1/chat/completions",
        json={"model": "nobody", "messages": [{"role": "user", "content": "x"}]},
    )
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "model_not_found"
    assert "x-pinyard-request-id" in missing.headers
    wrong_method = await admin.put("/v1/chat/completions", json={})
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["code"] == "method_not_allowed"


async def test_the_chat_route_is_in_the_openapi_document(admin: httpx.AsyncClient) -> None:
    paths = (await admin.get("/openapi.json")).json()["paths"]
    assert "post" in paths["/v1/chat/completions"]
