"""Each role against each admin action: a table of who may do what."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import fake_spec, push, set_alias
from tests.governance.conftest import ClientFor, audit_events

ROLES = ("viewer", "operator", "approver", "admin")
OK = (200, 201, 202)


async def _prepare(admin: httpx.AsyncClient) -> None:
    await push(admin, fake_spec())
    await push(admin, fake_spec(params={"temperature": 0.5}))
    await set_alias(admin, "dev", "support-chat", "support-chat@1")
    await set_alias(admin, "prod", "support-chat", "support-chat@1")


# (action, method, path, body, least role that may do it)
ACTIONS: list[tuple[str, str, str, Any, str]] = [
    ("list bundles", "GET", "/admin/bundles", None, "viewer"),
    ("read audit", "GET", "/admin/audit", None, "viewer"),
    ("verify audit", "GET", "/admin/audit/verify", None, "viewer"),
    ("show policy", "GET", "/admin/environments/prod/policy", None, "viewer"),
    ("list changes", "GET", "/admin/changes", None, "viewer"),
    ("push bundle", "POST", "/admin/bundles", fake_spec(name="other"), "operator"),
    (
        "set alias in dev",
        "PUT",
        "/admin/environments/dev/aliases/support-chat",
        {"bundle": "support-chat@2", "reason": "r"},
        "operator",
    ),
    (
        "roll back dev",
        "POST",
        "/admin/environments/dev/aliases/support-chat/rollback",
        {"reason": "r", "to": "support-chat@1"},
        "operator",
    ),
    (
        "set alias in protected prod",
        "PUT",
        "/admin/environments/prod/aliases/support-chat",
        {"bundle": "support-chat@2", "reason": "r"},
        "approver",
    ),
    (
        "roll back protected prod",
        "POST",
        "/admin/environments/prod/aliases/support-chat/rollback",
        {"reason": "r", "to": "support-chat@1"},
        "approver",
    ),
    ("set policy", "PUT", "/admin/environments/dev/policy", {"reason": "r"}, "admin"),
    ("list tokens", "GET", "/admin/tokens", None, "admin"),
    ("create token", "POST", "/admin/tokens", {"name": "new-one", "role": "viewer"}, "admin"),
    ("list keys", "GET", "/admin/keys", None, "admin"),
    ("create key", "POST", "/admin/keys", {"environment": "dev"}, "admin"),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("action", "method", "path", "body", "least"), ACTIONS, ids=[a[0] for a in ACTIONS]
)
async def test_role_against_action(
    app: Any,
    admin: httpx.AsyncClient,
    role_tokens: dict[str, str],
    client_for: ClientFor,
    role: str,
    action: str,
    method: str,
    path: str,
    body: Any,
    least: str,
) -> None:
    await _prepare(admin)
    before = (await admin.get("/admin/audit/verify")).json()["events"]
    async with client_for(role_tokens[role]) as http:
        response = await http.request(method, path, json=body)
    allowed = ROLES.index(role) >= ROLES.index(least)
    if allowed:
        assert response.status_code in OK, response.text
        return
    assert response.status_code == 403, response.text
    error = response.json()["error"]
    assert error["code"] == "role_required"
    assert f"token:{role}-1" in error["message"]
    assert "needs operator" in error["message"] or f"needs {least}" in error["message"]
    denied = await audit_events(app, admin, action="auth.denied")
    assert [e["actor"] for e in denied] == [f"token:{role}-1"]
    assert denied[0]["after"]["status"] == 403
    # Nothing changed: the refusal is the only new event.
    assert (await admin.get("/admin/audit/verify")).json()["events"] == before + 1


async def test_approval_needs_the_approver_role(
    admin: httpx.AsyncClient, role_tokens: dict[str, str], client_for: ClientFor
) -> None:
    await _prepare(admin)
    await admin.put(
        "/admin/environments/prod/policy", json={"reason": "two-person", "require_approval": True}
    )
    async with client_for(role_tokens["operator"]) as operator:
        asked = await operator.put(
            "/admin/environments/prod/aliases/support-chat",
            json={"bundle": "support-chat@2", "reason": "v2"},
        )
        assert asked.status_code == 202, asked.text
        change = asked.json()["id"]
    for role, status in (("viewer", 403), ("operator", 403), ("approver", 200)):
        async with client_for(role_tokens[role]) as http:
            answer = await http.post(f"/admin/changes/{change}/approve", json={})
        assert answer.status_code == status, (role, answer.text)
