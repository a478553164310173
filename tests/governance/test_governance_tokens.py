"""Admin tokens: shown once, stored hashed, revocable, expiring; refusals audited, secret-free."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import update

from app.registry.db import write_session
from app.registry.governance_tables import ApiTokenRow
from tests.conftest import ADMIN_TOKEN
from tests.governance.conftest import ClientFor, audit_events, make_token


async def test_a_token_is_shown_once_and_stored_hashed(
    app: Any, admin: httpx.AsyncClient, client_for: ClientFor
) -> None:
    created = await admin.post("/admin/tokens", json={"name": "alice", "role": "operator"})
    assert created.status_code == 201
    assert created.headers["cache-control"] == "no-store"
    token = created.json()["token"]
    assert token.startswith("pyd_adm_") and len(token) > 40
    assert created.json()["prefix"] == token[:14]
    listing = (await admin.get("/admin/tokens")).json()["data"]
    assert [t["name"] for t in listing] == ["alice"]
    assert token not in str(listing) and "hash" not in str(listing)
    with app.state.ctx.engine.connect() as connection:
        stored = connection.exec_driver_sql("SELECT token_hash FROM api_tokens").scalar_one()
    assert token not in stored and len(stored) == 64
    audit = (await admin.get("/admin/audit", params={"action": "token.create"})).json()["data"]
    assert token not in str(audit) and audit[0]["target"] == "token/alice"
    async with client_for(token) as http:
        me = await http.get("/admin/tokens/me")
    assert me.json() == {"name": "token:alice", "role": "operator"}


async def test_duplicate_names_and_bad_roles_are_refused(admin: httpx.AsyncClient) -> None:
    await make_token(admin, "alice", "viewer")
    again = await admin.post("/admin/tokens", json={"name": "alice", "role": "viewer"})
    assert again.status_code == 409
    bad = await admin.post("/admin/tokens", json={"name": "bob", "role": "root"})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "role"
    past = await admin.post(
        "/admin/tokens",
        json={"name": "bob", "role": "viewer", "expires_at": "2020-01-01T00:00:00Z"},
    )
    assert past.status_code == 400 and past.json()["error"]["param"] == "expires_at"


async def test_revoked_and_expired_tokens_are_401_and_audited_without_the_secret(
    app: Any, admin: httpx.AsyncClient, client_for: ClientFor
) -> None:
    revoked = await make_token(admin, "gone", "admin")
    expiring = await make_token(
        admin,
        "old",
        "admin",
        expires_at=(datetime.now(UTC) + timedelta(days=1)).isoformat(),
    )
    answer = await admin.post("/admin/tokens/gone/revoke", json={"reason": "left the team"})
    assert answer.status_code == 200 and answer.json()["state"] == "revoked"
    assert (await admin.post("/admin/tokens/gone/revoke", json={})).status_code == 409
    with write_session(app.state.ctx.engine) as session:
        session.exec(  # type: ignore[call-overload]
            update(ApiTokenRow)
            .where(ApiTokenRow.name == "old")  # type: ignore[arg-type]
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    bad = "pyd_adm_" + "x" * 43
    cases = [(revoked, "token_revoked"), (expiring, "token_expired"), (bad, "admin_token_invalid")]
    for token, code in cases:
        async with client_for(token) as http:
            response = await http.post("/admin/tokens", json={"name": "sneaky", "role": "admin"})
        assert response.status_code == 401, response.text
        assert response.json()["error"]["code"] == code
    assert [t["name"] for t in (await admin.get("/admin/tokens")).json()["data"]] == [
        "gone",
        "old",
    ]
    denied = await audit_events(app, admin, action="auth.denied")
    assert sorted(e["actor"] for e in denied) == ["anonymous", "token:gone", "token:old"]
    assert {e["after"]["status"] for e in denied} == {401}
    for secret in (revoked, expiring, bad, ADMIN_TOKEN):
        assert secret not in str(denied)


async def test_the_bootstrap_token_is_admin_and_names_the_actor(admin: httpx.AsyncClient) -> None:
    me = await admin.get("/admin/tokens/me")
    assert me.json() == {"name": "admin:tester", "role": "admin"}
    missing = await admin.get("/admin/tokens/me", headers={"Authorization": ""})
    assert missing.status_code == 401
