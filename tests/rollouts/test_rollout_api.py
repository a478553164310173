"""The rollout resource through the admin API: refusals, routing, sticky steps, the kill switch."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.context import AppContext
from app.registry.db import read_session
from app.registry.tables import RolloutRow
from tests.conftest import fake_spec, push
from tests.rollouts.rollout_helpers import audit, baseline_and, chat, start

ROLLOUT = "/admin/environments/dev/aliases/support-chat/rollout"


def rollout_rows(ctx: AppContext) -> list[RolloutRow]:
    from sqlmodel import select

    with read_session(ctx.engine) as session:
        return list(session.exec(select(RolloutRow)))


async def revision(admin: httpx.AsyncClient) -> int:
    events = (await admin.get("/admin/audit", params={"limit": 1000})).json()["data"]
    return len(events)


@pytest.mark.parametrize(
    ("body", "status", "problem"),
    [
        ({"candidate": "support-chat@1"}, 400, "is the baseline"),
        ({"candidate": "support-chat@9"}, 404, "support-chat@9 is not registered"),
        ({"candidate": "nope"}, 400, "nope"),
        ({"steps": [1, 5, 250]}, 400, "within [0, 100]"),
        ({"steps": [25, 5, 100]}, 400, "strictly increasing"),
        ({"steps": [5, 50]}, 400, "last step must be 100"),
        ({"reason": " "}, 400, "reason"),
        ({"shadow": {"rate": 2}}, 400, "shadow.rate"),
        ({"surprise": 1}, 400, "unknown field"),
    ],
)
async def test_bad_starts_are_refused_and_change_nothing(
    admin: httpx.AsyncClient, ctx: AppContext, body: dict[str, Any], status: int, problem: str
) -> None:
    candidate = await baseline_and(admin)
    before = await revision(admin)
    body = dict(body)
    answer = await start(admin, body.pop("candidate", candidate), expect=status, **body)
    assert problem in answer["error"]["message"]
    assert rollout_rows(ctx) == []
    assert await revision(admin) == before


async def test_unset_alias_embedding_bundles_and_a_second_rollout_are_refused(
    admin: httpx.AsyncClient, ctx: AppContext
) -> None:
    await push(admin, fake_spec())
    missing = await start(admin, "support-chat@1", expect=404)
    assert "not set in dev" in missing["error"]["message"]
    candidate = await baseline_and(admin)
    first = await start(admin, candidate)
    second = await start(admin, candidate, expect=409)
    message = second["error"]["message"]
    assert first["id"] in message and "already running" in message
    assert len(rollout_rows(ctx)) == 1
    embed = {"name": "embed", "model": "fake/embed-1", "kind": "embedding"}
    await push(admin, embed)
    await push(admin, {**embed, "params": {"dimensions": 8}})
    await admin.put(
        "/admin/environments/dev/aliases/embed", json={"bundle": "embed@1", "reason": "x"}
    )
    response = await admin.post(
        "/admin/environments/dev/aliases/embed/rollout",
        json={"candidate": "embed@2", "reason": "x"},
    )
    assert response.status_code == 400 and "chat bundles" in response.text


async def test_status_shows_the_plan_and_the_audit_names_it(admin: httpx.AsyncClient) -> None:
    assert (await admin.get(ROLLOUT)).status_code == 404
    candidate = await baseline_and(admin)
    started = await start(admin, candidate, steps=[10, 100], shadow={"rate": 0.5})
    assert started["state"] == "running" and started["step"]["kind"] == "shadow"
    assert [s["weight"] for s in started["plan"]["steps"]] == [0, 10, 100]
    assert started["baseline"]["version"] == 1 and started["candidate"]["version"] == 2
    status = (await admin.get(ROLLOUT)).json()
    assert status["id"] == started["id"]
    (event,) = await audit(admin, "rollout.start")
    assert event["target"] == "rollout/dev/support-chat" and event["actor"] == "admin:tester"
    assert event["after"]["candidate"]["version"] == 2 and event["reason"] == "try it"


async def test_canary_routing_is_sticky_and_monotone_across_steps(
    admin: httpx.AsyncClient, data: httpx.AsyncClient
) -> None:
    candidate = await baseline_and(admin)
    await start(admin, candidate, steps=[5, 25, 100], shadow={"rate": 0})
    users = [f"user-{i}" for i in range(200)]

    async def routes() -> dict[str, str]:
        seen = {}
        for user in users:
            answer = await chat(data, user, "hello")
            assert answer.status_code == 200, answer.text
            seen[user] = answer.headers["x-pinyard-route"]
            expected = "support-chat@2" if seen[user] == "canary" else "support-chat@1"
            assert answer.headers["x-pinyard-bundle"] == expected
        return seen

    at_5 = await routes()
    assert at_5 == await routes()  # sticky
    assert (await admin.post(f"{ROLLOUT}/advance", json={"reason": "go"})).status_code == 200
    at_25 = await routes()
    canary_5 = {u for u, r in at_5.items() if r == "canary"}
    canary_25 = {u for u, r in at_25.items() if r == "canary"}
    assert canary_5 <= canary_25 and len(canary_25) > len(canary_5)
    assert 20 <= len(canary_25) <= 80  # about 25% of 200


async def test_abort_takes_effect_on_the_next_request(
    admin: httpx.AsyncClient, data: httpx.AsyncClient
) -> None:
    candidate = await baseline_and(admin)
    await start(admin, candidate, steps=[100], shadow={"rate": 0})
    assert (await chat(data, "u1", "hi")).headers["x-pinyard-route"] == "canary"
    aborted = await admin.post(f"{ROLLOUT}/abort", json={"reason": "kill switch"})
    assert aborted.status_code == 200 and aborted.json()["state"] == "aborted"
    answer = await chat(data, "u1", "hi")
    assert answer.headers["x-pinyard-route"] == "stable"
    assert answer.headers["x-pinyard-bundle"] == "support-chat@1"
    (event,) = await audit(admin, "rollout.abort")
    assert event["reason"] == "kill switch" and event["after"]["state"] == "aborted"


async def test_ended_rollouts_refuse_every_lever(admin: httpx.AsyncClient) -> None:
    candidate = await baseline_and(admin)
    started = await start(admin, candidate)
    assert (await admin.post(f"{ROLLOUT}/abort")).status_code == 200
    for action in ("advance", "pause", "resume", "abort"):
        response = await admin.post(f"{ROLLOUT}/{action}", json={})
        assert response.status_code == 409, action
        message = response.json()["error"]["message"]
        assert started["id"] in message and "was aborted" in message
    # A new rollout may start once the previous one ended.
    assert (await start(admin, candidate))["id"] != started["id"]


async def test_pause_and_resume_are_audited_once(admin: httpx.AsyncClient) -> None:
    candidate = await baseline_and(admin)
    await start(admin, candidate)
    paused = await admin.post(f"{ROLLOUT}/pause", json={"reason": "looking into it"})
    assert paused.json()["paused"] is True
    again = await admin.post(f"{ROLLOUT}/pause")
    assert again.status_code == 409 and "already paused" in again.text
    assert (await admin.post(f"{ROLLOUT}/resume")).json()["paused"] is False
    assert [e["reason"] for e in await audit(admin, "rollout.pause")] == ["looking into it"]
    assert len(await audit(admin, "rollout.resume")) == 1


async def test_streamed_requests_are_routed_too(
    admin: httpx.AsyncClient, data: httpx.AsyncClient
) -> None:
    candidate = await baseline_and(admin)
    await start(admin, candidate, steps=[100], shadow={"rate": 0})
    body = {
        "model": "support-chat",
        "stream": True,
        "user": "u1",
        "messages": [{"role": "user", "content": "hi"}],
        "variables": {"customer_name": "Ada"},
    }
    async with data.stream("POST", "/v1/chat/completions", json=body) as response:
        assert response.headers["x-pinyard-route"] == "canary"
        assert b"[DONE]" in await response.aread()


async def test_pinned_references_bypass_the_rollout(
    admin: httpx.AsyncClient, data: httpx.AsyncClient
) -> None:
    candidate = await baseline_and(admin)
    await start(admin, candidate, steps=[100], shadow={"rate": 0})
    body = {
        "model": "support-chat@1",
        "user": "u1",
        "messages": [{"role": "user", "content": "hi"}],
        "variables": {"customer_name": "Ada"},
    }
    answer = await data.post("/v1/chat/completions", json=body)
    assert answer.headers["x-pinyard-route"] == "pinned"
