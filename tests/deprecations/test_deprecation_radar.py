"""The radar: blast radius per live alias, 24-hour volume, days left; and the gauge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.conftest import fake_spec, push, set_alias, wait_for_record
from tests.deprecations.conftest import SHUTDOWN, FixedClock, retiring_spec

CHAT = {"messages": [{"role": "user", "content": "hi"}], "variables": {"customer_name": "Ada"}}


async def chat(admin: httpx.AsyncClient, model: str) -> str:
    response = await admin.post("/v1/chat/completions", json={**CHAT, "model": model})
    assert response.status_code == 200, response.text
    return response.headers["x-pinyard-request-id"]


async def test_radar_lists_retiring_models_with_their_live_aliases_and_volume(
    dep_admin: httpx.AsyncClient, clock: FixedClock
) -> None:
    # Request records carry the real time: read the radar at (about) that time.
    clock.now = datetime.now(UTC) + timedelta(minutes=1)
    days = (SHUTDOWN - clock.now.date()).days
    await push(dep_admin, retiring_spec())
    await push(dep_admin, fake_spec())
    await set_alias(dep_admin, "dev", "legacy-chat", "legacy-chat@1")
    await set_alias(dep_admin, "staging", "legacy-chat", "legacy-chat@1")
    await set_alias(dep_admin, "dev", "support-chat", "support-chat@1")
    ids = [await chat(dep_admin, "legacy-chat") for _ in range(3)]
    ids.append(await chat(dep_admin, "legacy-chat@1"))  # pinned: counted for the model only
    ids.append(await chat(dep_admin, "support-chat"))
    for request_id in ids:
        await wait_for_record(dep_admin, request_id)

    radar = (await dep_admin.get("/admin/deprecations")).json()
    assert radar["scope"]["live_aliases"] is True and radar["scope"]["rollouts"] is True
    assert radar["rollouts_affected"] == 0
    assert radar["live_aliases_affected"] == 2
    [item] = radar["data"]
    assert item["model"] == "fake/retiring"
    assert item["shutdown_date"] == SHUTDOWN.isoformat()
    assert item["days_left"] == days
    assert item["replacement"] == "fake/echo"
    assert item["requests_24h"] == 4
    usages = {(u["environment"], u["alias"]): u for u in item["usages"]}
    assert set(usages) == {("dev", "legacy-chat"), ("staging", "legacy-chat")}
    assert usages["dev", "legacy-chat"]["requests_24h"] == 3
    assert usages["staging", "legacy-chat"]["requests_24h"] == 0
    assert usages["dev", "legacy-chat"]["bundle"]["name"] == "legacy-chat"
    assert usages["dev", "legacy-chat"]["where"] == "live"

    outside = await dep_admin.get("/admin/deprecations", params={"within": days - 1})
    assert outside.json()["data"] == []
    within = (await dep_admin.get("/admin/deprecations", params={"within": days})).json()
    assert within["live_aliases_affected"] == 2

    clock.now += timedelta(days=2)  # the requests are now older than 24 hours
    later = (await dep_admin.get("/admin/deprecations")).json()["data"][0]
    assert later["requests_24h"] == 0 and later["days_left"] == days - 2


async def test_gauge_of_days_until_shutdown_per_alias(
    dep_admin: httpx.AsyncClient, clock: FixedClock
) -> None:
    clock.days_before(12)
    await push(dep_admin, retiring_spec())
    await set_alias(dep_admin, "dev", "legacy-chat", "legacy-chat@1")
    metrics = (await dep_admin.get("/metrics")).text
    assert (
        'pinyard_model_days_until_shutdown{alias="legacy-chat",environment="dev",'
        'model="fake/retiring"} 12.0'
    ) in metrics
    clock.days_before(-3)  # three days past shutdown
    assert "} -3.0" in (await dep_admin.get("/metrics")).text


async def test_catalog_endpoints(dep_admin: httpx.AsyncClient, clock: FixedClock) -> None:
    clock.days_before(10)
    listed = (
        await dep_admin.get("/admin/deprecations/catalog", params={"provider": "fake"})
    ).json()
    assert [e["model"] for e in listed["data"]] == ["fake/retiring"]
    assert listed["data"][0]["days_left"] == 10 and listed["data"][0]["origin"] == "overrides"
    assert listed["catalog"]["last_error"] is None
    one: Any = await dep_admin.get(
        "/admin/deprecations/catalog", params={"model": "gpt-4o-2024-11-20"}
    )
    assert one.json()["data"][0]["model"] == "openai/gpt-4o-2024-11-20"
    none = await dep_admin.get("/admin/deprecations/catalog", params={"model": "fake/echo"})
    assert none.json()["data"] == []
    everything = await dep_admin.get("/admin/deprecations/catalog", params={"all": "true"})
    assert any(e["moving_pointer"] for e in everything.json()["data"])
    assert (
        await dep_admin.get("/admin/deprecations", headers={"authorization": ""})
    ).status_code == 401


async def test_running_rollout_candidates_are_on_the_radar(
    dep_admin: httpx.AsyncClient, clock: FixedClock
) -> None:
    clock.days_before(25)
    await push(dep_admin, fake_spec())
    await set_alias(dep_admin, "dev", "support-chat", "support-chat@1")
    await push(dep_admin, retiring_spec("support-chat"))
    started = await dep_admin.post(
        "/admin/environments/dev/aliases/support-chat/rollout",
        json={"candidate": "support-chat@2", "reason": "try the candidate"},
    )
    assert started.status_code == 201, started.text
    radar = (await dep_admin.get("/admin/deprecations")).json()
    assert radar["live_aliases_affected"] == 0 and radar["rollouts_affected"] == 1
    [usage] = radar["data"][0]["usages"]
    assert usage["where"] == "rollout" and usage["alias"] == "support-chat"
    assert usage["bundle"]["version"] == 2
