"""Client API keys: they fix the environment, narrow the aliases, and close local mode."""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest

from tests.conftest import BASE, fake_spec, push, set_alias
from tests.governance.conftest import audit_events, make_key

CHAT = {
    "model": "support-chat",
    "messages": [{"role": "user", "content": "hi"}],
    "variables": {"customer_name": "Ann"},
}


async def _two_environments(admin: httpx.AsyncClient) -> None:
    await push(admin, fake_spec())
    await push(admin, fake_spec(name="billing"))
    for env in ("dev", "prod"):
        await set_alias(admin, env, "support-chat", "support-chat@1")
        await set_alias(admin, env, "billing", "billing@1")


def _data_plane(app: Any, **headers: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE, headers=headers)


async def test_local_mode_until_the_first_key_then_keys_are_required(
    app: Any, admin: httpx.AsyncClient
) -> None:
    await _two_environments(admin)
    async with _data_plane(app) as anonymous:
        before = await anonymous.post("/v1/chat/completions", json=CHAT)
        assert before.status_code == 200 and before.headers["x-pinyard-environment"] == "dev"
        key = (await make_key(admin, "prod", name="web"))["key"]
        after = await anonymous.post("/v1/chat/completions", json=CHAT)
        assert after.status_code == 401
        assert after.json()["error"] == {
            "message": "missing API key: send 'Authorization: Bearer <key>' or 'x-api-key: <key>'",
            "type": "authentication_error",
            "param": None,
            "code": "api_key_missing",
        }
        assert (await anonymous.get("/v1/models")).status_code == 401
    for headers in ({"Authorization": f"Bearer {key}"}, {"x-api-key": key}):
        async with _data_plane(app, **headers) as client:
            answer = await client.post("/v1/chat/completions", json=CHAT)
            assert answer.status_code == 200, answer.text
            assert answer.headers["x-pinyard-environment"] == "prod"


async def test_alias_scope_pinned_refs_and_environment_header(
    app: Any, admin: httpx.AsyncClient
) -> None:
    await _two_environments(admin)
    key = (await make_key(admin, "prod", name="support-only", aliases=["support-chat"]))["key"]
    async with _data_plane(app, **{"Authorization": f"Bearer {key}"}) as client:
        assert (await client.post("/v1/chat/completions", json=CHAT)).status_code == 200
        other = await client.post("/v1/chat/completions", json={**CHAT, "model": "billing"})
        assert other.status_code == 403
        assert other.json()["error"]["code"] == "alias_not_allowed"
        assert other.json()["error"]["param"] == "model"
        pinned = await client.post("/v1/chat/completions", json={**CHAT, "model": "billing@1"})
        assert pinned.status_code == 403 and pinned.json()["error"]["code"] == "pinned_not_allowed"
        elsewhere = await client.post(
            "/v1/chat/completions", json=CHAT, headers={"x-pinyard-environment": "dev"}
        )
        assert elsewhere.status_code == 403
        assert elsewhere.json()["error"]["code"] == "key_environment_mismatch"
        assert "belongs to environment 'prod', not 'dev'" in elsewhere.json()["error"]["message"]
        models = (await client.get("/v1/models")).json()["data"]
        assert [m["id"] for m in models] == ["support-chat"]
    denied = await audit_events(app, admin, action="auth.denied")
    assert {e["after"]["code"] for e in denied} == {
        "alias_not_allowed",
        "pinned_not_allowed",
        "key_environment_mismatch",
    }
    assert {e["actor"] for e in denied} == {"key:support-only"}
    assert key not in str(denied)


async def test_pinned_refs_with_allow_pinned(app: Any, admin: httpx.AsyncClient) -> None:
    await _two_environments(admin)
    key = (await make_key(admin, "dev", allow_pinned=True))["key"]
    async with _data_plane(app, **{"x-api-key": key}) as client:
        pinned = await client.post("/v1/chat/completions", json={**CHAT, "model": "billing@1"})
        assert pinned.status_code == 200 and pinned.headers["x-pinyard-route"] == "pinned"


async def test_revoked_key_is_refused_at_once(app: Any, admin: httpx.AsyncClient) -> None:
    await _two_environments(admin)
    key = (await make_key(admin, "prod", name="leaked"))["key"]
    listed = (await admin.get("/admin/keys")).json()["data"]
    assert listed[0]["name"] == "leaked" and key not in str(listed)
    revoked = await admin.post("/admin/keys/leaked/revoke", json={"reason": "leaked in a log"})
    assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
    async with _data_plane(app, **{"Authorization": f"Bearer {key}"}) as client:
        answer = await client.post("/v1/chat/completions", json=CHAT)
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "api_key_revoked"
    events = await audit_events(app, admin, environment="prod")
    assert [e["action"] for e in events if e["target"] == "key/prod/leaked"] == [
        "key.create",
        "key.revoke",
    ]


async def test_the_openai_sdk_sees_its_own_exception_classes(
    app: Any, admin: httpx.AsyncClient
) -> None:
    await _two_environments(admin)
    key = (await make_key(admin, "prod", aliases=["support-chat"]))["key"]

    def sdk(api_key: str) -> openai.AsyncOpenAI:
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app))
        return openai.AsyncOpenAI(
            base_url=f"{BASE}/v1", api_key=api_key, http_client=http, max_retries=0
        )

    extra = {"variables": {"customer_name": "Ann"}}
    messages: Any = CHAT["messages"]
    good, bad = sdk(key), sdk("pyd_key_not-a-real-key")
    try:
        answer = await good.chat.completions.create(
            model="support-chat", messages=messages, extra_body=extra
        )
        assert answer.choices[0].message.content
        with pytest.raises(openai.PermissionDeniedError):
            await good.chat.completions.create(model="billing", messages=messages)
        with pytest.raises(openai.AuthenticationError):
            await bad.chat.completions.create(model="support-chat", messages=messages)
    finally:
        await good.close()
        await bad.close()


async def test_bad_key_requests(admin: httpx.AsyncClient) -> None:
    unknown = await admin.post("/admin/keys", json={"environment": "qa"})
    assert unknown.status_code == 400 and unknown.json()["error"]["param"] == "environment"
    no_rpm = await admin.post("/admin/keys", json={"environment": "dev", "rpm": 0})
    assert no_rpm.status_code == 400
    empty = await admin.post("/admin/keys", json={"environment": "dev", "aliases": []})
    assert empty.status_code == 400 and empty.json()["error"]["param"] == "aliases"
    await make_key(admin, "dev", name="one")
    assert (
        await admin.post("/admin/keys", json={"environment": "dev", "name": "one"})
    ).status_code == 409
