"""Registration warnings and refusals, and the promotion gate, at exact window boundaries."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import push, set_alias
from tests.deprecations.conftest import SHUTDOWN, FixedClock, retiring_spec


async def register(admin: httpx.AsyncClient, name: str, **params: Any) -> httpx.Response:
    return await admin.post("/admin/bundles", json=retiring_spec(name), params=params)


@pytest.mark.parametrize(("days", "warned"), [(91, False), (90, True), (89, True), (1, True)])
async def test_registration_warns_inside_the_window(
    dep_admin: httpx.AsyncClient, clock: FixedClock, days: int, warned: bool
) -> None:
    clock.days_before(days)
    response = await register(dep_admin, f"legacy-{days}")
    assert response.status_code == 201, response.text
    warnings = response.json()["warnings"]
    assert bool(warnings) is warned
    if warned:
        assert f"shuts down on {SHUTDOWN} ({days} day" in warnings[0]
        assert "replacement: fake/echo" in warnings[0]
        assert "90-day warning window" in warnings[0]


async def test_a_model_past_its_shutdown_is_refused_unless_forced_with_a_reason(
    dep_admin: httpx.AsyncClient, clock: FixedClock
) -> None:
    clock.days_before(0)  # shutdown day: it no longer answers
    refused = await register(dep_admin, "legacy")
    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["code"] == "model_retired" and error["param"] == "model"
    assert f"was shut down on {SHUTDOWN}" in error["message"]
    assert "replacement: fake/echo" in error["message"]
    assert (await dep_admin.get("/admin/bundles")).json()["data"] == []

    no_reason = await register(dep_admin, "legacy", force="true")
    assert no_reason.status_code == 400 and no_reason.json()["error"]["param"] == "reason"

    forced = await register(dep_admin, "legacy", force="true", reason="reproduce INC-42")
    assert forced.status_code == 201, forced.text
    assert "registered anyway because it was forced" in forced.json()["warnings"][0]
    events = await dep_admin.get("/admin/audit", params={"action": "bundle.register.forced"})
    [event] = events.json()["data"]
    assert event["reason"] == "reproduce INC-42"
    assert event["actor"] == "admin:tester"
    assert "was shut down on" in event["after"]["forced"]


async def test_floating_bundles_say_allow_floating_in_every_warning(
    dep_admin: httpx.AsyncClient, clock: FixedClock
) -> None:
    clock.days_before(30)
    spec = retiring_spec("floaty", allow_floating=True)
    warnings = (await push(dep_admin, spec))["warnings"]
    assert warnings and all("allow_floating: true" in w for w in warnings)
    pointer = {**retiring_spec("pointer", model="vllm/llama-pointer")}
    refused = await dep_admin.post("/admin/bundles", json=pointer)
    assert refused.status_code == 400 and "moving pointer" in refused.json()["error"]["message"]
    allowed = await push(dep_admin, {**pointer, "allow_floating": True})
    assert any("allow_floating: true" in w for w in allowed["warnings"])


@pytest.mark.parametrize(("days", "blocked"), [(15, False), (14, True), (13, True)])
async def test_promotion_into_a_protected_environment_is_gated(
    dep_admin: httpx.AsyncClient, clock: FixedClock, days: int, blocked: bool
) -> None:
    clock.days_before(60)
    await push(dep_admin, retiring_spec())
    clock.days_before(days)
    await set_alias(dep_admin, "dev", "legacy-chat", "legacy-chat@1")  # dev is not protected
    response = await dep_admin.put(
        "/admin/environments/staging/aliases/legacy-chat",
        json={"bundle": "legacy-chat@1", "reason": "promote"},
    )
    if not blocked:
        assert response.status_code == 200, response.text
        return
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "promotion_blocked"
    assert f"shuts down on {SHUTDOWN} ({days} days left)" in error["message"]
    assert "replacement: fake/echo" in error["message"]
    assert "staging blocks models within 14 days" in error["message"]


async def test_the_block_window_is_the_environment_policy_and_overrides_are_audited(
    dep_admin: httpx.AsyncClient, clock: FixedClock
) -> None:
    clock.days_before(60)
    await push(dep_admin, retiring_spec())
    policy = await dep_admin.put(
        "/admin/environments/prod/policy", json={"reason": "stricter", "block_within_days": 60}
    )
    assert policy.status_code == 200
    body = {"bundle": "legacy-chat@1", "reason": "ship it"}
    refused = await dep_admin.put("/admin/environments/prod/aliases/legacy-chat", json=body)
    assert refused.status_code == 409 and "within 60 days" in refused.json()["error"]["message"]
    forced = await dep_admin.put(
        "/admin/environments/prod/aliases/legacy-chat", json={**body, "override": True}
    )
    assert forced.status_code == 200
    assert "[deprecation]" in forced.json()["overridden"][0]
    events = await dep_admin.get("/admin/audit", params={"action": "alias.set.override"})
    assert events.json()["data"][0]["reason"] == "ship it"
    # Rollbacks are never gated: getting off a bad bundle must always work.
    rolled = await dep_admin.post(
        "/admin/environments/prod/aliases/legacy-chat/rollback",
        json={"reason": "back", "to": "legacy-chat@1"},
    )
    assert rolled.status_code == 200
