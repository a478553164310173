"""Threshold alerts: once per threshold across restarts, and a retried, idempotent webhook."""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import pytest
import respx

from app.deprecations.monitor import DeprecationMonitor, idempotency_key
from app.deprecations.webhook import AlertWebhook
from tests.conftest import push, set_alias
from tests.deprecations.conftest import FixedClock, retiring_spec

HOOK = "https://hooks.example/pinyard"


def monitor_for(app: Any, webhook: AlertWebhook | None = None) -> DeprecationMonitor:
    """A fresh monitor on the same database: what a restart or another replica runs."""
    ctx = app.state.ctx
    return DeprecationMonitor(ctx.deprecations, ctx.engine, ctx.snapshots, webhook)


def hook(max_attempts: int = 3) -> AlertWebhook:
    return AlertWebhook(HOOK, max_attempts=max_attempts, backoff_s=0.0, timeout_s=1.0)


async def live_retiring_alias(admin: httpx.AsyncClient, clock: FixedClock) -> None:
    clock.days_before(120)
    await push(admin, retiring_spec())
    await set_alias(admin, "dev", "legacy-chat", "legacy-chat@1")


async def test_each_threshold_fires_once_even_across_restarts(
    dep_app: Any, dep_admin: httpx.AsyncClient, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    await live_retiring_alias(dep_admin, clock)
    monitor = monitor_for(dep_app)
    fired: list[tuple[int, int]] = []

    async def check(days: int) -> None:
        clock.days_before(days)
        for event in await monitor.tick():
            fired.append((days, event["threshold_days"]))

    for days in (91, 90, 90, 89, 31, 30, 29, 8, 7, 1, 0, -1):
        await check(days)
    assert fired == [(90, 90), (30, 30), (7, 7), (0, 0)]

    restarted = monitor_for(dep_app)  # a restart, or a second replica
    assert await restarted.tick(at_start=True) == []

    with caplog.at_level(logging.WARNING, logger="pinyard.deprecations"):
        await monitor_for(dep_app).tick(at_start=True)
    assert "dev/legacy-chat: legacy-chat@1 pins fake/retiring, which was shut down" in caplog.text


async def test_crossing_several_thresholds_at_once_announces_the_most_urgent(
    dep_app: Any, dep_admin: httpx.AsyncClient, clock: FixedClock
) -> None:
    await live_retiring_alias(dep_admin, clock)
    clock.days_before(20)
    [event] = await monitor_for(dep_app).tick()
    assert event["threshold_days"] == 30 and event["days_left"] == 20
    assert event["idempotency_key"] == idempotency_key("dev", "legacy-chat", "fake/retiring", 30)
    assert event["replacement"] == "fake/echo" and event["shutdown_date"] == "2027-03-01"
    assert event["bundle"]["name"] == "legacy-chat" and event["allow_floating"] is False
    clock.days_before(19)
    assert await monitor_for(dep_app).tick() == []  # 90 was superseded, not pending


@respx.mock(assert_all_mocked=True)
async def test_webhook_is_retried_and_never_resent_once_delivered(
    respx_mock: respx.MockRouter,
    dep_app: Any,
    dep_admin: httpx.AsyncClient,
    clock: FixedClock,
) -> None:
    route = respx_mock.post(HOOK).mock(
        side_effect=[httpx.Response(500), httpx.ConnectError("down"), httpx.Response(202)]
    )
    await live_retiring_alias(dep_admin, clock)
    monitor = monitor_for(dep_app, hook())
    clock.days_before(90)
    [event] = await monitor.tick()
    assert route.call_count == 3  # 500, connection error, then delivered
    keys = {call.request.headers["idempotency-key"] for call in route.calls}
    assert keys == {event["idempotency_key"]}
    sent = json.loads(route.calls[-1].request.content)
    assert sent["threshold_days"] == 90 and sent["alias"] == "legacy-chat"

    await monitor.tick()
    await monitor_for(dep_app, hook()).tick()  # a restart does not resend either
    assert route.call_count == 3


@respx.mock(assert_all_mocked=True)
async def test_an_undelivered_event_is_retried_next_check_with_the_same_key(
    respx_mock: respx.MockRouter,
    dep_app: Any,
    dep_admin: httpx.AsyncClient,
    clock: FixedClock,
) -> None:
    route = respx_mock.post(HOOK).mock(return_value=httpx.Response(503))
    await live_retiring_alias(dep_admin, clock)
    monitor = monitor_for(dep_app, hook(max_attempts=2))
    clock.days_before(30)
    [event] = await monitor.tick()
    assert route.call_count == 2  # every attempt failed: not delivered

    route.mock(return_value=httpx.Response(200))
    assert await monitor.tick() == []  # nothing new to announce ...
    assert route.call_count == 3  # ... but the pending event went out
    assert route.calls[-1].request.headers["idempotency-key"] == event["idempotency_key"]
    await monitor.tick()
    assert route.call_count == 3


@respx.mock(assert_all_mocked=True)
async def test_a_client_error_is_not_retried(
    respx_mock: respx.MockRouter,
    dep_app: Any,
    dep_admin: httpx.AsyncClient,
    clock: FixedClock,
) -> None:
    route = respx_mock.post(HOOK).mock(return_value=httpx.Response(400))
    await live_retiring_alias(dep_admin, clock)
    clock.days_before(7)
    await monitor_for(dep_app, hook(max_attempts=5)).tick()
    assert route.call_count == 1


async def test_a_reloaded_catalog_reaches_the_headers(
    dep_app: Any, dep_admin: httpx.AsyncClient, clock: FixedClock, overrides_file: Any
) -> None:
    await live_retiring_alias(dep_admin, clock)
    overrides_file.write_text(
        "- {model: fake/retiring, shutdown_date: 2027-04-01, replacement: fake/echo}\n",
        encoding="utf-8",
    )
    await monitor_for(dep_app).tick()
    served = dep_app.state.ctx.snapshots.current.alias("dev", "legacy-chat")
    assert dict(served.deprecation_headers)["Sunset"] == "Thu, 01 Apr 2027 00:00:00 GMT"
    overrides_file.write_text("- {model: fake/retiring, shutdown_date: whenever}\n", "utf-8")
    await monitor_for(dep_app).tick()
    radar = (await dep_admin.get("/admin/deprecations")).json()
    assert "whenever" in radar["catalog"]["last_error"]
    assert radar["data"][0]["shutdown_date"] == "2027-04-01"  # the last good catalog
