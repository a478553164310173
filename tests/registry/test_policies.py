"""Environment policies and the promotion-gate seam."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.registry.gates import PromotionRequest
from tests.conftest import fake_spec, push, set_alias


class MetadataGate:
    """Refuses bundles whose metadata says ``blocked``: a stand-in for real gates."""

    name = "test-gate"

    def check(self, request: PromotionRequest) -> list[str]:
        if request.spec["metadata"].get("blocked"):
            return [f"{request.bundle.name}@{request.bundle.version} is marked blocked"]
        return []


@pytest.fixture
def gated(app: Any) -> None:
    app.state.ctx.registry.gates.append(MetadataGate())


async def test_default_policies_protect_everything_after_the_first_environment(
    admin: httpx.AsyncClient,
) -> None:
    for env, protected in (("dev", False), ("staging", True), ("prod", True)):
        answer = (await admin.get(f"/admin/environments/{env}/policy")).json()
        assert answer["default"] is True
        assert answer["policy"] == {
            "protected": protected,
            "require_approval": False,
            "block_within_days": 14,
            "aliases": {},
        }


async def test_policy_set_merges_and_is_audited(admin: httpx.AsyncClient) -> None:
    first = await admin.put(
        "/admin/environments/staging/policy",
        json={
            "reason": "gate support-chat",
            "block_within_days": 30,
            "aliases": {"support-chat": {"required_suites": ["smoke"], "max_age_days": 7}},
        },
    )
    assert first.status_code == 200, first.text
    second = await admin.put(
        "/admin/environments/staging/policy", json={"reason": "approvals", "require_approval": True}
    )
    policy = second.json()["policy"]
    assert policy["block_within_days"] == 30 and policy["require_approval"] is True
    assert policy["aliases"]["support-chat"]["required_suites"] == ["smoke"]
    dropped = await admin.put(
        "/admin/environments/staging/policy",
        json={"reason": "drop", "aliases": {"support-chat": None}},
    )
    assert dropped.json()["policy"]["aliases"] == {}
    events = (await admin.get("/admin/audit", params={"action": "policy.set"})).json()["data"]
    assert [e["reason"] for e in events] == ["gate support-chat", "approvals", "drop"]
    assert (
        events[0]["before"]["block_within_days"] == 14
        and events[0]["after"]["block_within_days"] == 30
    )


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ({"reason": "", "protected": True}, 400, "reason is required"),
        ({"protected": True}, 400, "reason: Field required"),
        ({"reason": "r", "block_within_days": -1}, 400, "block_within_days"),
        ({"reason": "r", "colour": "red"}, 400, "colour: unknown field"),
    ],
)
async def test_bad_policy_updates_change_nothing(
    admin: httpx.AsyncClient, body: dict[str, Any], status: int, needle: str
) -> None:
    response = await admin.put("/admin/environments/prod/policy", json=body)
    assert response.status_code == status and needle in response.json()["error"]["message"]
    assert (await admin.get("/admin/environments/prod/policy")).json()["default"] is True


async def test_unknown_environment_policy_is_404(admin: httpx.AsyncClient) -> None:
    response = await admin.get("/admin/environments/qa/policy")
    assert response.status_code == 404 and "unknown environment 'qa'" in response.text


@pytest.mark.usefixtures("gated")
async def test_gates_run_only_for_protected_environments(admin: httpx.AsyncClient) -> None:
    await push(admin, fake_spec(metadata={"blocked": True}))
    await set_alias(admin, "dev", "support-chat", "support-chat@1")  # dev is not protected
    refused = await admin.put(
        "/admin/environments/staging/aliases/support-chat",
        json={"bundle": "support-chat@1", "reason": "promote"},
    )
    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["code"] == "promotion_blocked"
    assert "[test-gate] support-chat@1 is marked blocked" in error["message"]
    missing = await admin.get("/admin/environments/staging/aliases/support-chat")
    assert missing.status_code == 404  # nothing was written
    await admin.put(
        "/admin/environments/staging/policy", json={"reason": "open it", "protected": False}
    )
    await set_alias(admin, "staging", "support-chat", "support-chat@1")


@pytest.mark.usefixtures("gated")
async def test_override_is_audited_as_an_override(admin: httpx.AsyncClient) -> None:
    await push(admin, fake_spec(metadata={"blocked": True}))
    forced = await admin.put(
        "/admin/environments/prod/aliases/support-chat",
        json={"bundle": "support-chat@1", "reason": "hotfix, evals run after", "override": True},
    )
    assert forced.status_code == 200
    assert forced.json()["overridden"] == ["[test-gate] support-chat@1 is marked blocked"]
    events = (await admin.get("/admin/audit", params={"target": "alias/prod/"})).json()["data"]
    assert [e["action"] for e in events] == ["alias.set.override"]
    assert events[0]["after"]["overridden"] and events[0]["reason"] == "hotfix, evals run after"
