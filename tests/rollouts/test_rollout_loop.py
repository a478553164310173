"""The analysis loop, ticked by hand on a test clock: advance, complete, roll back, hold."""

from __future__ import annotations

import httpx

from app.context import AppContext
from app.rollouts.loop import AnalysisLoop
from tests.rollouts.rollout_helpers import Clock, audit, baseline_and, chat, load, settle, start

ROLLOUT = "/admin/environments/dev/aliases/support-chat/rollout"
ALIAS = "/admin/environments/dev/aliases/support-chat"


async def status(admin: httpx.AsyncClient) -> dict[str, object]:
    answer: dict[str, object] = (await admin.get(ROLLOUT)).json()
    return answer


async def test_a_healthy_candidate_goes_through_every_step_and_takes_the_alias(
    admin: httpx.AsyncClient, data: httpx.AsyncClient, ctx: AppContext, clock: Clock
) -> None:
    loop = ctx.rollouts.loop
    candidate = await baseline_and(admin)
    rollout = await start(
        admin,
        candidate,
        steps=[20, 50, 100],
        min_requests=20,
        min_duration_s=60,
        shadow={"rate": 1.0, "max_concurrency": 100},
    )
    rid = rollout["id"]
    (hold,) = loop.tick()
    assert hold.action == "hold" and "waiting for 20 shadow pairs" in hold.reason

    sent = 30
    assert all(a.status_code == 200 for a in await load(data, 30))
    await settle(ctx, rid, sent)
    (hold,) = loop.tick()
    assert hold.action == "hold" and "0.0s of 60s" in hold.reason  # passing, not long enough
    (advance,) = loop.tick(clock.advance(61))
    assert advance.action == "advance" and "shadow" in advance.reason

    for requests in (250, 120):
        assert all(a.status_code == 200 for a in await load(data, requests, offset=sent))
        sent += requests
        await settle(ctx, rid, sent)
        (decision,) = loop.tick(clock.advance(61))
        assert decision.action == "advance", decision.reason
    now = await status(admin)
    assert now["step"] == {**now["step"], "kind": "canary", "weight": 100.0}  # type: ignore[dict-item]

    await load(data, 40, offset=sent)
    await settle(ctx, rid, sent + 40)
    (done,) = loop.tick(clock.advance(61))
    assert done.action == "complete", done.reason

    final = await status(admin)
    assert final["state"] == "completed"
    alias = (await admin.get(ALIAS)).json()
    assert alias["bundle"]["version"] == 2
    assert [e["after"]["step"] for e in await audit(admin, "rollout.advance")] == [1, 2, 3]
    (complete,) = await audit(admin, "rollout.complete")
    assert complete["actor"] == "pinyard:rollout-analysis"
    assert complete["after"]["evidence"]["outcome"] == "pass"
    flip = (await audit(admin, "alias.set"))[-1]
    assert flip["before"]["version"] == 1 and flip["after"]["version"] == 2
    assert rid in flip["reason"]
    # The baseline stays one rollback away.
    back = await admin.post(f"{ALIAS}/rollback", json={"reason": "changed my mind"})
    assert back.json()["bundle"]["version"] == 1
    assert (await chat(data, "user-1", "hi")).headers["x-pinyard-route"] == "stable"


async def test_a_flaky_canary_is_rolled_back_with_the_evidence_audited(
    admin: httpx.AsyncClient, data: httpx.AsyncClient, ctx: AppContext, clock: Clock
) -> None:
    candidate = await baseline_and(admin, "fake/flaky-20")
    rollout = await start(admin, candidate, steps=[50, 100], min_requests=40, shadow={"rate": 0})
    answers = await load(data, 200)
    canary = [a for a in answers if a.headers["x-pinyard-route"] in ("canary", "fallback")]
    failed = [a for a in canary if a.status_code != 200]
    assert 0.1 < len(failed) / len(canary) < 0.3  # the fake fails about 20% of requests
    assert all(a.status_code == 200 for a in answers if a.headers["x-pinyard-route"] == "stable")
    await settle(ctx, rollout["id"], 200)

    (decision,) = ctx.rollouts.loop.tick()  # no need to wait: a failing step rolls back at once
    assert decision.action == "rollback" and "error rate" in decision.reason
    (event,) = await audit(admin, "rollout.rollback")
    assert event["actor"] == "pinyard:rollout-analysis"
    assert event["after"]["state"] == "rolled_back"
    evidence = event["after"]["evidence"]
    errors = next(c for c in evidence["checks"] if c["metric"] == "errors")
    assert errors["outcome"] == "fail" and errors["p_value"] < 0.05
    assert evidence["arms"]["stable"]["errors"] == 0 and evidence["arms"]["canary"]["errors"] > 5
    # The alias never moved; every request is the baseline's again.
    assert (await admin.get(ALIAS)).json()["bundle"]["version"] == 1
    after = await load(data, 20, offset=500)
    assert {a.headers["x-pinyard-route"] for a in after} == {"stable"}
    assert (await status(admin))["state"] == "rolled_back"
    advance = await admin.post(f"{ROLLOUT}/advance")
    assert advance.status_code == 409 and "rolled back" in advance.text


async def test_a_flaky_candidate_is_caught_in_shadow_before_any_client_sees_it(
    admin: httpx.AsyncClient, data: httpx.AsyncClient, ctx: AppContext
) -> None:
    candidate = await baseline_and(admin, "fake/flaky-20")
    rollout = await start(
        admin,
        candidate,
        steps=[50, 100],
        min_requests=60,
        shadow={"rate": 1.0, "max_concurrency": 100},
    )
    answers = await load(data, 80)
    assert {a.status_code for a in answers} == {200}
    assert {a.headers["x-pinyard-route"] for a in answers} == {"stable"}
    await settle(ctx, rollout["id"], 80)
    (decision,) = ctx.rollouts.loop.tick()
    assert decision.action == "rollback" and "shadow" in decision.reason
    report = (await admin.get(f"{ROLLOUT}/report")).json()
    assert report["errors"]["baseline"] == 0 and report["errors"]["candidate"] > 5
    assert report["most_different"][0]["candidate"]["ok"] is False


async def test_the_loop_holds_while_paused_and_tells_why(
    admin: httpx.AsyncClient, data: httpx.AsyncClient, ctx: AppContext, clock: Clock
) -> None:
    candidate = await baseline_and(admin)
    rollout = await start(admin, candidate, steps=[50, 100], min_requests=10, shadow={"rate": 0})
    await load(data, 60)
    await settle(ctx, rollout["id"], 60)
    await admin.post(f"{ROLLOUT}/pause")
    (hold,) = ctx.rollouts.loop.tick(clock.advance(120))
    assert hold.action == "hold" and "paused" in hold.reason
    shown = await status(admin)
    assert "paused" in shown["verdict"]["reason"]  # type: ignore[index]
    await admin.post(f"{ROLLOUT}/resume")
    (advance,) = ctx.rollouts.loop.tick(clock.advance(1))
    assert advance.action == "advance"


async def test_decisions_are_idempotent_and_one_replica_decides(
    admin: httpx.AsyncClient, data: httpx.AsyncClient, ctx: AppContext, clock: Clock
) -> None:
    candidate = await baseline_and(admin)
    rollout = await start(admin, candidate, steps=[50, 100], min_requests=10, shadow={"rate": 0})
    await load(data, 60)
    await settle(ctx, rollout["id"], 60)
    other = AnalysisLoop(ctx.rollouts.service, lease_ttl_s=15, holder="replica-b")
    first = ctx.rollouts.loop.tick(clock.advance(61))
    assert [d.action for d in first] == ["advance"]
    assert other.tick(clock.now) == []  # the lease is held by the first replica
    # Replaying the decision on the version it was taken on changes nothing.
    replay = ctx.rollouts.service.move(
        rollout["id"], 0, "advance", actor="x", reason="again", evidence=None
    )
    assert replay is False
    assert len(await audit(admin, "rollout.advance")) == 1
    # The holder stops renewing: after the lease expires another replica takes over.
    assert [d.action for d in other.tick(clock.advance(16))] == ["hold"]
    assert ctx.rollouts.loop.tick(clock.now) == []


async def test_moving_the_alias_outside_the_rollout_aborts_it(
    admin: httpx.AsyncClient, data: httpx.AsyncClient, ctx: AppContext
) -> None:
    candidate = await baseline_and(admin)
    await start(admin, candidate, steps=[50, 100], shadow={"rate": 0})
    await admin.put(ALIAS, json={"bundle": candidate, "reason": "by hand"})
    # The snapshot serves the alias as set at once: no rollout routing any more.
    assert (await chat(data, "u", "hi")).headers["x-pinyard-route"] == "stable"
    (decision,) = ctx.rollouts.loop.tick()
    assert decision.action == "abort" and "outside the rollout" in decision.reason
    assert (await status(admin))["state"] == "aborted"


async def test_an_interrupted_final_flip_is_finished(
    admin: httpx.AsyncClient, ctx: AppContext
) -> None:
    candidate = await baseline_and(admin)
    await start(admin, candidate, steps=[100], shadow={"rate": 0})
    await admin.put(ALIAS, json={"bundle": candidate, "reason": "flipped, then crashed"})
    (decision,) = ctx.rollouts.loop.tick()
    assert decision.action == "complete"
    assert (await status(admin))["state"] == "completed"
    assert len(await audit(admin, "alias.set")) == 2  # no second flip


async def test_arm_metrics_are_exported(
    admin: httpx.AsyncClient, data: httpx.AsyncClient, ctx: AppContext
) -> None:
    candidate = await baseline_and(admin)
    rollout = await start(admin, candidate, steps=[50, 100], shadow={"rate": 0})
    await load(data, 40)
    await settle(ctx, rollout["id"], 40)
    text = (await admin.get("/metrics")).text
    for arm in ("canary", "stable"):
        assert f'pinyard_rollout_requests_total{{alias="support-chat",arm="{arm}"' in text
        assert (
            f'pinyard_rollout_request_duration_seconds_count{{alias="support-chat",arm="{arm}"'
            in text
        )
    assert (
        'pinyard_rollout_canary_weight_percent{alias="support-chat",environment="dev"} 50.0' in text
    )
    shown = await status(admin)
    arms = shown["arms"]["step"]  # type: ignore[index]
    assert arms["canary"]["requests"] + arms["stable"]["requests"] == 40
    assert arms["canary"]["latency_ms"]["p50"] is not None


async def test_a_manual_advance_records_the_verdict_it_overrode(
    admin: httpx.AsyncClient, data: httpx.AsyncClient, ctx: AppContext
) -> None:
    candidate = await baseline_and(admin)
    rollout = await start(admin, candidate, steps=[50, 100], min_requests=500, shadow={"rate": 0})
    await load(data, 20)
    await settle(ctx, rollout["id"], 20)
    (hold,) = ctx.rollouts.loop.tick()
    assert hold.action == "hold" and "waiting for 500 requests per arm" in hold.reason
    advanced = await admin.post(f"{ROLLOUT}/advance", json={"reason": "enough data for me"})
    assert advanced.json()["step"]["weight"] == 100 and advanced.json()["verdict"] is None
    (event,) = await audit(admin, "rollout.advance")
    assert event["actor"] == "admin:tester" and event["reason"] == "enough data for me"
    assert event["after"]["evidence"]["outcome"] == "inconclusive"
