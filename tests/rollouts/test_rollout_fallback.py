"""A fallback never hides a failing candidate: each arm is judged on its own bundle."""

from __future__ import annotations

from typing import Any

import httpx

from app.context import AppContext
from tests.conftest import push, set_alias, wait_for_record
from tests.rollouts.rollout_helpers import audit, load, settle, spec, start

ROLLOUT = "/admin/environments/dev/aliases/support-chat/rollout"
ALIAS = "/admin/environments/dev/aliases/support-chat"


async def failing_candidate_with_baseline_fallback(admin: httpx.AsyncClient) -> str:
    """support-chat@1 live; @2 fails every call and falls back to @1."""
    await push(admin, spec())
    await set_alias(admin, "dev", "support-chat", "support-chat@1")
    candidate = spec("fake/error-503", system="You kindly help {{ customer_name }}.")
    candidate["fallbacks"] = ["support-chat@1"]
    return f"support-chat@{(await push(admin, candidate))['version']}"


async def test_a_candidate_answered_only_by_its_fallback_is_rolled_back(
    admin: httpx.AsyncClient, data: httpx.AsyncClient, ctx: AppContext
) -> None:
    candidate = await failing_candidate_with_baseline_fallback(admin)
    rollout = await start(admin, candidate, steps=[50, 100], min_requests=40, shadow={"rate": 0})
    answers = await load(data, 200)
    # Every client got an answer: the candidate's arm was served by the baseline.
    assert {a.status_code for a in answers} == {200}
    routes = [a.headers["x-pinyard-route"] for a in answers]
    assert set(routes) == {"stable", "fallback"} and routes.count("fallback") > 40
    await settle(ctx, rollout["id"], 200)

    (decision,) = ctx.rollouts.loop.tick()
    assert decision.action == "rollback", decision.reason
    assert "error rate" in decision.reason
    (event,) = await audit(admin, "rollout.rollback")
    assert event["actor"] == "pinyard:rollout-analysis"
    evidence = event["after"]["evidence"]
    canary, stable = evidence["arms"]["canary"], evidence["arms"]["stable"]
    assert canary["fallbacks"] == canary["requests"] and canary["fallback_rate"] == 1.0
    assert canary["errors"] == canary["requests"]  # its own bundle failed every time
    assert stable["fallbacks"] == 0 and stable["errors"] == 0
    errors = next(c for c in evidence["checks"] if c["metric"] == "errors")
    assert errors["outcome"] == "fail" and "fallback" in errors["detail"]
    assert (await admin.get(ALIAS)).json()["bundle"]["version"] == 1


async def test_the_record_names_the_bundle_in_the_chain_that_answered(
    admin: httpx.AsyncClient, data: httpx.AsyncClient
) -> None:
    candidate = await failing_candidate_with_baseline_fallback(admin)
    await set_alias(admin, "dev", "support-chat", candidate)
    (answer,) = await load(data, 1)
    assert answer.headers["x-pinyard-route"] == "fallback"
    assert answer.headers["x-pinyard-bundle"] == "support-chat@1"
    assert answer.headers["x-pinyard-fallback-index"] == "1"
    record = await wait_for_record(admin, answer.headers["x-pinyard-request-id"])
    assert record["fallback_index"] == 1 and record["bundle_version"] == 1
    assert record["route"] == "fallback"

    await set_alias(admin, "dev", "support-chat", "support-chat@1")
    (direct,) = await load(data, 1, offset=1)
    assert "x-pinyard-fallback-index" not in direct.headers
    record = await wait_for_record(admin, direct.headers["x-pinyard-request-id"])
    assert record["fallback_index"] == 0


async def test_fallback_rate_per_arm_in_status_and_metrics(
    admin: httpx.AsyncClient, data: httpx.AsyncClient, ctx: AppContext
) -> None:
    candidate = await failing_candidate_with_baseline_fallback(admin)
    rollout = await start(admin, candidate, steps=[50, 100], min_requests=500, shadow={"rate": 0})
    await load(data, 60)
    await settle(ctx, rollout["id"], 60)
    shown: dict[str, Any] = (await admin.get(ROLLOUT)).json()
    canary, stable = shown["arms"]["step"]["canary"], shown["arms"]["step"]["stable"]
    assert canary["requests"] > 0 and canary["fallback_rate"] == 1.0
    assert stable["requests"] > 0 and stable["fallback_rate"] == 0.0
    assert shown["arms"]["total"]["canary"]["fallbacks"] == canary["requests"]
    text = (await admin.get("/metrics")).text
    assert (
        'pinyard_rollout_requests_total{alias="support-chat",arm="canary",'
        'environment="dev",outcome="fallback"}' in text
    )
    assert 'arm="canary",environment="dev",outcome="ok"}' not in text


async def test_a_shadow_pair_answered_by_a_fallback_is_a_baseline_failure_not_a_comparison(
    admin: httpx.AsyncClient, data: httpx.AsyncClient, ctx: AppContext
) -> None:
    await push(admin, spec())
    failing = spec("fake/error-503", system="You briefly help {{ customer_name }}.")
    failing["fallbacks"] = ["support-chat@1"]
    await push(admin, failing)
    await set_alias(admin, "dev", "support-chat", "support-chat@2")  # a failing baseline
    await push(admin, spec(system="You kindly help {{ customer_name }}."))
    rollout = await start(
        admin,
        "support-chat@3",
        steps=[50, 100],
        min_requests=20,
        shadow={"rate": 1.0, "max_concurrency": 100},
    )
    answers = await load(data, 30)
    assert {a.headers["x-pinyard-route"] for a in answers} == {"fallback"}
    await settle(ctx, rollout["id"], 30)
    (decision,) = ctx.rollouts.loop.tick()
    assert decision.action == "hold", decision.reason  # passing, waiting for min_duration_s
    shown: dict[str, Any] = (await admin.get(ROLLOUT)).json()
    stable = shown["verdict"]["arms"]["stable"]
    assert stable["fallbacks"] == 30 and stable["errors"] == 30
    assert shown["verdict"]["arms"]["candidate"]["errors"] == 0
    assert shown["verdict"]["arms"]["compared"] == 0  # the client's answer was not the baseline's
    text = (await admin.get("/metrics")).text
    assert (
        'pinyard_shadow_pairs_total{alias="support-chat",environment="dev",outcome="fallback"} 30.0'
        in text
    )
