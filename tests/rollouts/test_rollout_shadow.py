"""Shadow traffic: the candidate runs off the client's path; pairs are compared and reported."""

from __future__ import annotations

import asyncio
import time

import httpx
from sqlmodel import select

from app.context import AppContext
from app.registry.db import read_session
from app.registry.tables import ShadowPairRow
from tests.conftest import push, set_alias
from tests.rollouts.rollout_helpers import baseline_and, chat, load, settle, spec, start

ROLLOUT = "/admin/environments/dev/aliases/support-chat/rollout"
SHADOW_ONLY = {"steps": [50, 100], "min_requests": 1000}


def pairs(ctx: AppContext) -> list[ShadowPairRow]:
    with read_session(ctx.engine) as session:
        return list(session.exec(select(ShadowPairRow).order_by(ShadowPairRow.id)))  # type: ignore[arg-type]


async def timed(data: httpx.AsyncClient, user: str, text: str) -> tuple[httpx.Response, float]:
    started = time.perf_counter()
    answer = await chat(data, user, text)
    return answer, time.perf_counter() - started


async def test_a_slow_candidate_changes_neither_the_answer_nor_its_latency(
    admin: httpx.AsyncClient, data: httpx.AsyncClient, ctx: AppContext
) -> None:
    candidate = await baseline_and(admin, "fake/slow-1000")
    before, _ = await timed(data, "u1", "Where is my order?")
    rollout = await start(admin, candidate, shadow={"rate": 1.0}, **SHADOW_ONLY)
    answer, elapsed = await timed(data, "u1", "Where is my order?")
    assert elapsed < 0.5  # the candidate takes a second; the client does not wait for it
    assert answer.status_code == 200
    assert answer.json()["choices"] == before.json()["choices"]
    assert answer.headers["x-pinyard-route"] == "stable"
    assert answer.headers["x-pinyard-bundle"] == "support-chat@1"
    await settle(ctx, rollout["id"], 1)
    (pair,) = pairs(ctx)
    assert pair.candidate_ok and pair.candidate_latency_ms >= 1000
    assert pair.latency_delta_ms > 900 and pair.request_id == answer.headers["x-pinyard-request-id"]


async def test_a_failing_candidate_never_reaches_the_client(
    admin: httpx.AsyncClient, data: httpx.AsyncClient, ctx: AppContext
) -> None:
    candidate = await baseline_and(admin, "fake/error-500")
    shadow = {"rate": 1.0, "max_concurrency": 50}
    rollout = await start(admin, candidate, shadow=shadow, **SHADOW_ONLY)
    answers = await load(data, 10)
    assert {a.status_code for a in answers} == {200}
    await settle(ctx, rollout["id"], 10)
    stored = pairs(ctx)
    assert len(stored) == 10
    assert all(p.primary_ok and not p.candidate_ok for p in stored)
    assert all("provider_error" in (p.candidate_error or "") for p in stored)
    assert all(p.similarity is None and p.primary_text for p in stored)


async def test_pairs_carry_the_comparison_and_the_report_shows_it(
    admin: httpx.AsyncClient, data: httpx.AsyncClient, ctx: AppContext
) -> None:
    # Same model, new prompt: the fake echoes the question, so answers agree exactly.
    candidate = await baseline_and(admin)
    rollout = await start(
        admin, candidate, shadow={"rate": 1.0, "max_concurrency": 50}, **SHADOW_ONLY
    )
    await load(data, 20)
    await settle(ctx, rollout["id"], 20)
    stored = pairs(ctx)
    assert len(stored) == 20
    assert all(p.exact_match and p.similarity == 1.0 and p.length_ratio == 1.0 for p in stored)
    assert all(p.token_delta is not None and p.token_delta > 0 for p in stored)  # longer prompt
    report = (await admin.get(f"{ROLLOUT}/report", params={"limit": 3})).json()
    assert report["pairs"] == 20 and report["agreement_rate"] == 1.0
    assert report["exact_match_rate"] == 1.0 and report["errors"] == {"baseline": 0, "candidate": 0}
    assert len(report["most_different"]) == 3
    side = report["most_different"][0]
    assert side["baseline"]["text"] == side["candidate"]["text"]
    status = (await admin.get(ROLLOUT)).json()
    assert status["shadow"] == {"pairs": 20, "compared": 20, "agreement_rate": 1.0}


async def test_a_different_model_disagrees_and_the_pairs_say_how(
    admin: httpx.AsyncClient, data: httpx.AsyncClient, ctx: AppContext
) -> None:
    candidate = await baseline_and(admin, "fake/another-model-entirely")
    rollout = await start(admin, candidate, shadow={"rate": 1.0}, **SHADOW_ONLY)
    await chat(data, "u1", "ok")
    await settle(ctx, rollout["id"], 1)
    (pair,) = pairs(ctx)
    assert not pair.exact_match and pair.similarity is not None and pair.similarity < 0.8
    assert pair.primary_text == "[fake/echo] ok"
    assert pair.candidate_text == "[fake/another-model-entirely] ok"
    assert pair.length_ratio is not None and pair.length_ratio > 1


async def test_streamed_answers_are_shadowed_too(
    admin: httpx.AsyncClient, data: httpx.AsyncClient, ctx: AppContext
) -> None:
    candidate = await baseline_and(admin)
    rollout = await start(admin, candidate, shadow={"rate": 1.0}, **SHADOW_ONLY)
    body = {
        "model": "support-chat",
        "stream": True,
        "messages": [{"role": "user", "content": "streamed question"}],
        "variables": {"customer_name": "Ada"},
    }
    async with data.stream("POST", "/v1/chat/completions", json=body) as response:
        await response.aread()
    await settle(ctx, rollout["id"], 1)
    (pair,) = pairs(ctx)
    assert pair.primary_text == "[fake/echo] streamed question" and pair.exact_match


async def test_the_concurrency_cap_and_the_daily_budget_drop_and_count(
    admin: httpx.AsyncClient, data: httpx.AsyncClient, ctx: AppContext
) -> None:
    candidate = await baseline_and(admin, "fake/slow-300")
    rollout = await start(
        admin, candidate, shadow={"rate": 1.0, "max_concurrency": 2}, **SHADOW_ONLY
    )
    answers = await asyncio.gather(*(chat(data, f"u{i}", "hi") for i in range(8)))
    assert {a.status_code for a in answers} == {200}
    assert ctx.rollouts.shadow.pending == 2
    await settle(ctx, rollout["id"], 8)
    assert len(pairs(ctx)) == 2
    metrics = (await admin.get("/metrics")).text
    assert 'pinyard_shadow_dropped_total{reason="concurrency"} 6.0' in metrics

    await admin.post(f"{ROLLOUT}/abort")
    await set_alias(admin, "dev", "support-chat", "support-chat@1")
    second = await start(
        admin,
        candidate,
        shadow={"rate": 1.0, "max_concurrency": 50, "daily_budget": 3},
        **SHADOW_ONLY,
    )
    for i in range(6):
        await chat(data, f"v{i}", "hi")
    await settle(ctx, second["id"], 6)
    assert len([p for p in pairs(ctx) if p.rollout_id == second["id"]]) == 3
    metrics = (await admin.get("/metrics")).text
    assert 'pinyard_shadow_dropped_total{reason="budget"} 3.0' in metrics


async def test_shadow_stops_when_the_rollout_leaves_the_shadow_step(
    admin: httpx.AsyncClient, data: httpx.AsyncClient, ctx: AppContext
) -> None:
    candidate = await baseline_and(admin)
    rollout = await start(admin, candidate, shadow={"rate": 1.0}, **SHADOW_ONLY)
    await admin.post(f"{ROLLOUT}/advance")
    await load(data, 10)
    await settle(ctx, rollout["id"], 10)
    assert pairs(ctx) == []


async def test_the_primary_side_is_what_the_client_got_after_output_guardrails(
    admin: httpx.AsyncClient, data: httpx.AsyncClient, ctx: AppContext
) -> None:
    guarded = spec()
    guarded["guardrails"] = {
        "output": [{"type": "deny_pattern", "patterns": ["(?i)secret"], "action": "block"}]
    }
    await push(admin, guarded)
    await set_alias(admin, "dev", "support-chat", "support-chat@1")
    candidate = await push(admin, spec(system="You kindly help {{ customer_name }}."))
    rollout = await start(
        admin, f"support-chat@{candidate['version']}", shadow={"rate": 1.0}, **SHADOW_ONLY
    )
    blocked = await chat(data, "u1", "tell me the secret")
    assert blocked.status_code == 422 and "guardrail" in blocked.text
    fine = await chat(data, "u2", "where is my order?")
    assert fine.status_code == 200
    await settle(ctx, rollout["id"], 2)
    first, second = pairs(ctx)
    assert first.request_id == blocked.headers["x-pinyard-request-id"]
    assert not first.primary_ok and first.primary_text is None
    assert "guardrail" in (first.primary_error or "") and first.candidate_ok
    assert second.primary_ok and second.primary_text == "[fake/echo] where is my order?"
