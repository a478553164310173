"""The admin API over HTTP: auth, envelopes, the full alias life cycle."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from app.main import create_app
from app.settings import Settings
from tests.conftest import ADMIN_TOKEN, BASE, fake_spec, make_settings, push, set_alias


async def test_admin_api_is_closed_without_a_configured_token(settings: Settings) -> None:
    app = create_app(make_settings(settings, admin_token=None))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client:
        response = await client.get("/admin/bundles", headers={"Authorization": "Bearer anything"})
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "admin_disabled" and "PINYARD_ADMIN_TOKEN" in error["message"]


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "admin_token_missing"),
        ({"Authorization": "Bearer wrong-token-123456789"}, "admin_token_invalid"),
        ({"Authorization": f"Basic {ADMIN_TOKEN}"}, "admin_token_missing"),
    ],
)
async def test_missing_or_wrong_token_is_401(
    admin: httpx.AsyncClient, headers: dict[str, str], code: str
) -> None:
    response = await admin.get("/admin/bundles", headers={"Authorization": "", **headers})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == code


async def test_register_is_201_then_200(admin: httpx.AsyncClient) -> None:
    first = await admin.post("/admin/bundles", json=fake_spec())
    again = await admin.post("/admin/bundles", json=fake_spec())
    assert first.status_code == 201 and first.json()["created"] is True
    assert again.status_code == 200 and again.json() == {**first.json(), "created": False}
    shown = await admin.get("/admin/bundles/support-chat/1")
    assert shown.json()["spec"]["prompt"]["system"].startswith("You help")
    by_digest = await admin.get(f"/admin/bundles/support-chat/{first.json()['digest']}")
    assert by_digest.json()["version"] == 1


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ({**fake_spec(), "surprise": 1}, "surprise: unknown field"),
        (fake_spec(model="openai/gpt-4o"), "floating"),
        (fake_spec(prompt={"system": "{{ nope }}"}), "does not declare: nope"),
        (fake_spec(variables_schema={"type": 12}), "not a valid JSON Schema"),
        (["not", "a", "mapping"], "must be a mapping"),
    ],
)
async def test_invalid_bundles_are_400_and_nothing_is_written(
    admin: httpx.AsyncClient, spec: object, needle: str
) -> None:
    response = await admin.post("/admin/bundles", json=spec)
    assert response.status_code == 400, response.text
    assert needle in response.json()["error"]["message"]
    assert (await admin.get("/admin/bundles")).json()["data"] == []
    assert (await admin.get("/admin/audit")).json()["data"] == []


async def test_alias_life_cycle(admin: httpx.AsyncClient) -> None:
    v1 = await push(admin, fake_spec())
    v2 = await push(admin, fake_spec(params={"temperature": 0.7}))
    await set_alias(admin, "dev", "support-chat", "support-chat@1")
    flipped = await admin.put(
        "/admin/environments/dev/aliases/support-chat",
        json={"bundle": "support-chat@2", "reason": "v2", "expected": v1["digest"]},
    )
    assert flipped.status_code == 200
    assert flipped.json() == {
        "environment": "dev",
        "alias": "support-chat",
        "bundle": {"name": "support-chat", "version": 2, "digest": v2["digest"]},
        "previous": {"name": "support-chat", "version": 1, "digest": v1["digest"]},
    }
    stale = await admin.put(
        "/admin/environments/dev/aliases/support-chat",
        json={"bundle": "support-chat@1", "reason": "late", "expected": v1["digest"]},
    )
    assert stale.status_code == 409 and stale.json()["error"]["param"] == "expected"
    promoted = await set_alias(admin, "staging", "support-chat", f"support-chat@{v2['digest']}")
    assert promoted["bundle"]["digest"] == v2["digest"]
    rolled = await admin.post(
        "/admin/environments/dev/aliases/support-chat/rollback", json={"reason": "regression"}
    )
    assert rolled.status_code == 200 and rolled.json()["bundle"]["version"] == 1
    history = (await admin.get("/admin/environments/dev/aliases/support-chat/history")).json()
    assert [entry["action"] for entry in history["data"]] == ["rollback", "set", "set"]
    assert history["data"][0]["actor"] == "admin:tester"
    now = datetime.now(UTC).isoformat()
    live = await admin.get(
        "/admin/environments/dev/aliases/support-chat/history", params={"at": now}
    )
    assert live.json()["live"]["to"]["version"] == 1
    listing = (await admin.get("/admin/environments/dev/aliases")).json()["data"]
    assert [(a["alias"], a["bundle"]["version"]) for a in listing] == [("support-chat", 1)]
    verify = (await admin.get("/admin/audit/verify")).json()
    assert verify == {"ok": True, "events": 6, "broken_at": None, "problem": None}


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "needle"),
    [
        (
            "put",
            "/admin/environments/qa/aliases/a",
            {"bundle": "support-chat@1", "reason": "r"},
            404,
            "unknown environment 'qa'",
        ),
        (
            "put",
            "/admin/environments/dev/aliases/a",
            {"bundle": "support-chat@4", "reason": "r"},
            404,
            "support-chat@4 is not registered",
        ),
        (
            "put",
            "/admin/environments/dev/aliases/a",
            {"bundle": "support-chat@1", "reason": ""},
            400,
            "reason is required",
        ),
        (
            "put",
            "/admin/environments/dev/aliases/a",
            {"bundle": "support-chat@1"},
            400,
            "reason: Field required",
        ),
        (
            "put",
            "/admin/environments/dev/aliases/a",
            {"bundle": "support-chat@1", "reason": "r", "x": 1},
            400,
            "x: unknown field",
        ),
        ("get", "/admin/environments/dev/aliases/nope", None, 404, "'nope' is not set in dev"),
        ("get", "/admin/bundles/support-chat/9", None, 404, "support-chat@9 is not registered"),
        ("get", "/admin/requests/req_missing", None, 404, "no request record"),
        ("get", "/admin/nothing-here", None, 404, "Not Found"),
    ],
)
async def test_errors_use_the_openai_envelope(
    admin: httpx.AsyncClient, method: str, path: str, body: object, status: int, needle: str
) -> None:
    await push(admin, fake_spec())
    response = await admin.request(method, path, json=body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert needle in error["message"]


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("get", "/nothing-here", 404, "not_found"),
        ("get", "/v1/chat/completions", 405, "method_not_allowed"),
    ],
)
async def test_routing_errors_name_themselves(
    admin: httpx.AsyncClient, method: str, path: str, status: int, code: str
) -> None:
    response = await admin.request(method, path)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


async def test_bundle_diff_endpoint(admin: httpx.AsyncClient) -> None:
    await push(admin, fake_spec())
    schema = fake_spec()["variables_schema"]
    schema = {
        **schema,
        "properties": {**schema["properties"], "order_id": {"type": "string"}},
        "required": ["customer_name", "order_id"],
    }
    await push(
        admin, fake_spec(prompt={"system": "Hello {{ customer_name }}"}, variables_schema=schema)
    )
    diff = (await admin.get("/admin/bundles/support-chat/diff", params={"from": 1, "to": 2})).json()
    assert diff["from"]["version"] == 1 and diff["to"]["version"] == 2
    assert "+Hello {{ customer_name }}" in diff["templates"][0]["unified"]
    assert any("order_id" in reason for reason in diff["breaking_variables"])


async def test_audit_listing_pages_and_filters(admin: httpx.AsyncClient) -> None:
    for t in (0.1, 0.2, 0.3):
        await push(admin, fake_spec(params={"temperature": t}))
    await set_alias(admin, "dev", "support-chat", "support-chat@1")
    page = (await admin.get("/admin/audit", params={"limit": 2})).json()
    assert [e["seq"] for e in page["data"]] == [1, 2] and page["next_after"] == 2
    rest = (await admin.get("/admin/audit", params={"after": 2, "limit": 2})).json()
    assert [e["seq"] for e in rest["data"]] == [3, 4]
    flips = (await admin.get("/admin/audit", params={"action": "alias.set"})).json()["data"]
    assert [e["target"] for e in flips] == ["alias/dev/support-chat"]
