"""Point-in-time evidence: what served prod then, who set and approved it, on what runs."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx

from tests.conftest import fake_spec, push, set_alias
from tests.governance.conftest import ClientFor

PROD = "/admin/environments/prod/aliases/support-chat"


async def _record_run(admin: httpx.AsyncClient, digest: str, verdict: str) -> str:
    answer = await admin.post(
        "/admin/evals/runs",
        json={
            "suite": {"name": "smoke", "digest": "sha256:" + "0" * 64},
            "bundle": {"digest": digest},
            "verdict": verdict,
            "totals": {"pass_rate": 1.0 if verdict == "pass" else 0.5},
        },
    )
    assert answer.status_code == 201, answer.text
    run_id: str = answer.json()["id"]
    return run_id


async def _approved(
    client_for: ClientFor, tokens: dict[str, str], ref: str, reason: str
) -> dict[str, Any]:
    async with client_for(tokens["operator"]) as operator:
        asked = await operator.put(PROD, json={"bundle": ref, "reason": reason})
        assert asked.status_code == 202, asked.text
    async with client_for(tokens["approver"]) as approver:
        done = await approver.post(
            f"/admin/changes/{asked.json()['id']}/approve", json={"reason": "looks good"}
        )
        assert done.status_code == 200, done.text
    result: dict[str, Any] = done.json()
    return result


def _now() -> str:
    return datetime.now(UTC).isoformat()


async def test_who_approved_what_served_prod_and_on_what_evidence(
    admin: httpx.AsyncClient, role_tokens: dict[str, str], client_for: ClientFor
) -> None:
    before_anything = _now()
    await asyncio.sleep(0.01)
    v1 = await push(admin, fake_spec())
    v2 = await push(admin, fake_spec(params={"temperature": 0.7}))
    await set_alias(admin, "prod", "support-chat", "support-chat@1", reason="launch")
    launched = _now()
    await admin.put(
        "/admin/environments/prod/policy", json={"reason": "two-person", "require_approval": True}
    )
    passed = await _record_run(admin, v2["digest"], "pass")
    change = await _approved(client_for, role_tokens, "support-chat@2", "kinder tone")
    await asyncio.sleep(0.01)
    with_v2 = _now()
    await asyncio.sleep(0.01)
    await _record_run(admin, v2["digest"], "fail")  # after the moment asked about
    await _approved(client_for, role_tokens, "support-chat@1", "back to v1")

    evidence = (await admin.get(f"{PROD}/evidence", params={"at": with_v2})).json()
    assert evidence["live"]["bundle"] == {
        "name": "support-chat",
        "version": 2,
        "digest": v2["digest"],
    }
    assert evidence["live"]["set_by"] == "token:operator-1"
    assert evidence["live"]["reason"] == "kinder tone"
    approval = evidence["approval"]
    assert approval["change"] == change["id"]
    assert approval["approved_by"] == "token:approver-1"
    assert approval["approval_reason"] == "looks good"
    assert [r["id"] for r in approval["evidence"]["eval_runs"]] == [passed]
    assert [(r["id"], r["passed"]) for r in evidence["eval_runs"]] == [(passed, True)]
    assert "cases" not in evidence["eval_runs"][0]
    actions = [e["action"] for e in evidence["audit_events"]]
    assert actions == ["change.request", "change.approve", "alias.set"]
    assert all(len(e["hash"]) == 64 for e in evidence["audit_events"])

    launch = (await admin.get(f"{PROD}/evidence", params={"at": launched})).json()
    assert launch["live"]["bundle"]["digest"] == v1["digest"]
    assert launch["live"]["set_by"] == "admin:tester" and launch["approval"] is None
    assert [e["action"] for e in launch["audit_events"]] == ["alias.set"]

    latest = (await admin.get(f"{PROD}/evidence")).json()
    assert latest["live"]["bundle"]["version"] == 1 and latest["approval"] is not None

    nothing = await admin.get(f"{PROD}/evidence", params={"at": before_anything})
    assert nothing.status_code == 404
