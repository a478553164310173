"""Two-person approval for production: request, refuse self-approval, approve, expire."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import update

from app.registry.db import write_session
from app.registry.governance_tables import PendingChangeRow
from tests.conftest import fake_spec, push, set_alias
from tests.governance.conftest import ClientFor, audit_events

PROD = "/admin/environments/prod/aliases/support-chat"


async def _prod_requires_approval(admin: httpx.AsyncClient) -> tuple[dict[str, Any], ...]:
    v1 = await push(admin, fake_spec())
    v2 = await push(admin, fake_spec(params={"temperature": 0.7}))
    await set_alias(admin, "prod", "support-chat", "support-chat@1", reason="first release")
    answer = await admin.put(
        "/admin/environments/prod/policy",
        json={"reason": "two-person rule", "require_approval": True},
    )
    assert answer.status_code == 200
    return v1, v2


async def test_a_prod_change_waits_for_a_second_principal(
    app: Any, admin: httpx.AsyncClient, role_tokens: dict[str, str], client_for: ClientFor
) -> None:
    v1, v2 = await _prod_requires_approval(admin)
    async with client_for(role_tokens["approver"]) as requester:
        asked = await requester.put(
            PROD, json={"bundle": "support-chat@2", "reason": "v2 is kinder"}
        )
        assert asked.status_code == 202, asked.text
        change = asked.json()
        assert change["status"] == "pending" and change["kind"] == "alias.set"
        assert change["requested_by"] == "token:approver-1"
        assert change["payload"]["bundle"]["digest"] == v2["digest"]
        assert change["payload"]["from_digest"] == v1["digest"]
        assert change["evidence"] == {"eval_runs": []}
        # Nothing flipped yet.
        live = (await admin.get(PROD)).json()
        assert live["bundle"]["version"] == 1
        # The requester cannot approve it, even holding the approver role.
        own = await requester.post(f"/admin/changes/{change['id']}/approve", json={})
        assert own.status_code == 403 and own.json()["error"]["code"] == "self_approval"
    pending = {"state": "pending"}
    listed = (await admin.get("/admin/changes", params=pending)).json()["data"]
    assert [c["id"] for c in listed] == [change["id"]]
    async with client_for(role_tokens["approver2"]) as approver:
        approved = await approver.post(
            f"/admin/changes/{change['id']}/approve", json={"reason": "evals look fine"}
        )
        assert approved.status_code == 200, approved.text
        assert approved.json()["status"] == "applied"
        assert approved.json()["decided_by"] == "token:approver-2"
        again = await approver.post(f"/admin/changes/{change['id']}/approve", json={})
        assert again.status_code == 403 and again.json()["error"]["code"] == "change_not_pending"
    live = (await admin.get(PROD)).json()
    assert live["bundle"]["version"] == 2 and live["updated_by"] == "token:approver-1"
    assert (await admin.get("/admin/changes", params=pending)).json()["data"] == []
    trail = await audit_events(app, admin, environment="prod", alias="support-chat")
    assert [(e["action"], e["actor"]) for e in trail if e["action"] != "change.denied"] == [
        ("alias.set", "admin:tester"),
        ("change.request", "token:approver-1"),
        ("change.approve", "token:approver-2"),
        ("alias.set", "token:approver-1"),
    ]
    # Refusals are written in batches: their own times say when they happened.
    denied = {e["after"]["code"]: e for e in trail if e["action"] == "change.denied"}
    assert denied["self_approval"]["actor"] == "token:approver-1"
    assert denied["change_not_pending"]["actor"] == "token:approver-2"
    approval = next(e for e in trail if e["action"] == "change.approve")
    assert denied["self_approval"]["after"]["first_at"] < approval["at"]
    assert (await admin.get("/admin/audit/verify")).json()["ok"] is True


async def test_the_bootstrap_token_is_one_principal_whatever_actor_it_claims(
    admin: httpx.AsyncClient,
) -> None:
    await _prod_requires_approval(admin)
    asked = await admin.put(PROD, json={"bundle": "support-chat@2", "reason": "v2"})
    assert asked.status_code == 202
    other_name = await admin.post(
        f"/admin/changes/{asked.json()['id']}/approve",
        json={},
        headers={"x-pinyard-actor": "somebody-else"},
    )
    assert other_name.status_code == 403 and other_name.json()["error"]["code"] == "self_approval"


async def test_expired_changes_cannot_be_approved(
    app: Any, admin: httpx.AsyncClient, role_tokens: dict[str, str], client_for: ClientFor
) -> None:
    await _prod_requires_approval(admin)
    async with client_for(role_tokens["operator"]) as operator:
        asked = await operator.put(PROD, json={"bundle": "support-chat@2", "reason": "v2"})
    change = asked.json()["id"]
    with write_session(app.state.ctx.engine) as session:
        session.exec(  # type: ignore[call-overload]
            update(PendingChangeRow)
            .where(PendingChangeRow.id == change)  # type: ignore[arg-type]
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    pending = (await admin.get("/admin/changes", params={"state": "pending"})).json()["data"]
    assert pending == []
    expired = (await admin.get("/admin/changes", params={"state": "expired"})).json()["data"]
    assert [c["status"] for c in expired] == ["expired"]
    async with client_for(role_tokens["approver"]) as approver:
        late = await approver.post(f"/admin/changes/{change}/approve", json={})
    assert late.status_code == 403 and late.json()["error"]["code"] == "change_expired"
    assert (await admin.get(PROD)).json()["bundle"]["version"] == 1


async def test_reject_and_withdraw(
    admin: httpx.AsyncClient, role_tokens: dict[str, str], client_for: ClientFor
) -> None:
    await _prod_requires_approval(admin)
    async with client_for(role_tokens["operator"]) as operator:
        first = (await operator.put(PROD, json={"bundle": "support-chat@2", "reason": "a"})).json()
        second = (await operator.put(PROD, json={"bundle": "support-chat@2", "reason": "b"})).json()
        withdrawn = await operator.post(
            f"/admin/changes/{first['id']}/reject", json={"reason": "wrong ticket"}
        )
        assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "rejected"
    async with client_for(role_tokens["viewer"]) as viewer:
        refused = await viewer.post(f"/admin/changes/{second['id']}/reject", json={"reason": "x"})
        assert refused.status_code == 403
    async with client_for(role_tokens["approver"]) as approver:
        no_reason = await approver.post(f"/admin/changes/{second['id']}/reject", json={})
        assert no_reason.status_code == 400
        rejected = await approver.post(
            f"/admin/changes/{second['id']}/reject", json={"reason": "not this week"}
        )
        assert rejected.json()["decided_by"] == "token:approver-1"
        late = await approver.post(f"/admin/changes/{second['id']}/approve", json={})
        assert late.status_code == 403 and late.json()["error"]["code"] == "change_not_pending"
    assert (await admin.get(PROD)).json()["bundle"]["version"] == 1


async def test_an_approval_of_a_stale_change_is_a_conflict(
    admin: httpx.AsyncClient, role_tokens: dict[str, str], client_for: ClientFor
) -> None:
    await _prod_requires_approval(admin)
    await push(admin, fake_spec(params={"temperature": 0.9}))
    async with client_for(role_tokens["operator"]) as operator:
        one = (await operator.put(PROD, json={"bundle": "support-chat@2", "reason": "a"})).json()
        two = (await operator.put(PROD, json={"bundle": "support-chat@3", "reason": "b"})).json()
    async with client_for(role_tokens["approver"]) as approver:
        assert (
            await approver.post(f"/admin/changes/{one['id']}/approve", json={})
        ).status_code == 200
        stale = await approver.post(f"/admin/changes/{two['id']}/approve", json={})
    assert stale.status_code == 409 and stale.json()["error"]["param"] == "expected"
    assert (await admin.get(f"/admin/changes/{two['id']}")).json()["status"] == "pending"


async def test_rollback_in_an_approval_environment(
    admin: httpx.AsyncClient, role_tokens: dict[str, str], client_for: ClientFor
) -> None:
    await _prod_requires_approval(admin)
    async with client_for(role_tokens["operator"]) as operator:
        asked = (await operator.put(PROD, json={"bundle": "support-chat@2", "reason": "a"})).json()
        refused = await operator.post(f"{PROD}/rollback", json={"reason": "incident"})
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "role_required"
    async with client_for(role_tokens["approver"]) as approver:
        await approver.post(f"/admin/changes/{asked['id']}/approve", json={})
        chosen = await approver.post(
            f"{PROD}/rollback", json={"reason": "incident", "to": "support-chat@1"}
        )
        assert chosen.status_code == 403 and chosen.json()["error"]["code"] == "approval_required"
        back = await approver.post(f"{PROD}/rollback", json={"reason": "incident"})
        assert back.status_code == 200 and back.json()["bundle"]["version"] == 1
