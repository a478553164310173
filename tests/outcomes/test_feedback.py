"""Feedback: declared metrics, values bound to the version and arm that answered, refusals."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import openai
import pytest
from sqlmodel import select

from app.context import AppContext
from app.gateway.lineage import new_request_id
from app.main import create_app
from app.registry.db import read_session
from app.registry.outcome_tables import FeedbackRow
from app.registry.record_repo import request_id_time
from app.registry.tables import utcnow
from app.settings import Settings
from tests.conftest import BASE, fake_spec, make_settings, push, set_alias, wait_for_record
from tests.governance.conftest import make_key
from tests.outcomes.conftest import chat_body, declare


def stored(ctx: AppContext) -> list[FeedbackRow]:
    with read_session(ctx.engine) as session:
        return list(session.exec(select(FeedbackRow)))


async def answered(admin: httpx.AsyncClient, data: httpx.AsyncClient) -> str:
    """support-chat@1 live in dev, one answer from it; its request id, recorded."""
    await push(admin, fake_spec())
    await set_alias(admin, "dev", "support-chat", "support-chat@1")
    answer = await data.post("/v1/chat/completions", json=chat_body())
    assert answer.status_code == 200, answer.text
    request_id = answer.headers["x-pinyard-request-id"]
    await wait_for_record(admin, request_id)
    return request_id


async def test_metrics_are_declared_once_audited_and_never_changed(
    admin: httpx.AsyncClient,
) -> None:
    body = {"name": "thumbs_up", "type": "boolean", "direction": "higher"}
    first = await admin.post("/admin/metrics", json=body)
    assert first.status_code == 201, first.text
    assert first.json()["created"] is True and first.json()["created_by"] == "admin:tester"
    again = await admin.post("/admin/metrics", json=body)
    assert again.status_code == 200 and again.json()["created"] is False
    changed = await admin.post("/admin/metrics", json={**body, "direction": "lower"})
    assert changed.status_code == 409
    assert changed.json()["error"]["code"] == "metric_exists"
    listed = (await admin.get("/admin/metrics")).json()["data"]
    assert [m["name"] for m in listed] == ["thumbs_up"]
    assert (await admin.get("/admin/metrics/thumbs_up")).json()["direction"] == "higher"
    assert (await admin.get("/admin/metrics/nope")).status_code == 404
    events = (await admin.get("/admin/audit", params={"action": "metric.create"})).json()["data"]
    assert [e["target"] for e in events] == ["metric/thumbs_up"]


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"name": "x", "type": "float"}, "needs a direction"),
        ({"name": "x", "type": "boolean", "direction": "higher", "min": 0}, "no range"),
        ({"name": "x", "type": "float", "direction": "higher", "min": 5, "max": 1}, "above max"),
        ({"name": "X y", "type": "float", "direction": "higher"}, "name"),
        ({"name": "x", "type": "stars", "direction": "higher"}, "type"),
        ({"name": "x", "type": "float", "direction": "up"}, "direction"),
    ],
)
async def test_bad_declarations_are_400_and_nothing_is_stored(
    admin: httpx.AsyncClient, body: dict[str, Any], needle: str
) -> None:
    response = await admin.post("/admin/metrics", json=body)
    assert response.status_code == 400, response.text
    assert needle in response.json()["error"]["message"]
    assert (await admin.get("/admin/metrics")).json()["data"] == []


async def test_declaring_needs_the_operator_role(app: Any, admin: httpx.AsyncClient) -> None:
    created = await admin.post("/admin/tokens", json={"name": "watcher", "role": "viewer"})
    token = created.json()["token"]
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=BASE,
        headers={"Authorization": f"Bearer {token}"},
    ) as viewer:
        refused = await viewer.post(
            "/admin/metrics", json={"name": "x", "type": "boolean", "direction": "higher"}
        )
        assert refused.status_code == 403
        assert (await viewer.get("/admin/metrics")).status_code == 200


async def test_feedback_through_the_sdk_is_bound_to_the_answering_version(
    app: Any, admin: httpx.AsyncClient, oai: openai.AsyncOpenAI, data: httpx.AsyncClient
) -> None:
    await declare(admin, "thumbs_up", "boolean")
    await declare(admin, "stars", "integer", min=1, max=5)
    await declare(admin, "remark", "comment")
    v1 = await push(admin, fake_spec())
    await set_alias(admin, "dev", "support-chat", "support-chat@1")
    raw = await oai.chat.completions.with_raw_response.create(
        model="support-chat",
        messages=[{"role": "user", "content": "Where is my order?"}],
        extra_body={"variables": {"customer_name": "Ada"}},
    )
    request_id = raw.headers["x-pinyard-request-id"]
    await wait_for_record(admin, request_id)
    one = await data.post(
        "/v1/feedback",
        json={"request_id": request_id, "metric": "thumbs_up", "value": True, "comment": "ok"},
    )
    assert one.status_code == 201, one.text
    assert one.json()["id"].startswith("fb_")
    batch = await data.post(
        "/v1/feedback",
        json={
            "items": [
                {"request_id": request_id, "metric": "stars", "value": 4},
                {"request_id": request_id, "metric": "remark", "value": "fast and right"},
            ]
        },
    )
    assert batch.status_code == 201, batch.text
    assert len(batch.json()["ids"]) == 2
    rows = {row.metric: row for row in stored(app.state.ctx)}
    assert rows["thumbs_up"].value == 1.0 and rows["thumbs_up"].comment == "ok"
    assert rows["stars"].value == 4.0
    assert rows["remark"].value is None and rows["remark"].text == "fast and right"
    for row in rows.values():
        assert row.bundle_digest == v1["digest"]
        assert (row.environment, row.alias, row.arm) == ("dev", "support-chat", None)
        assert row.actor == "local"


async def test_feedback_on_a_rollout_names_the_arm_and_step(
    app: Any, admin: httpx.AsyncClient, data: httpx.AsyncClient
) -> None:
    await declare(admin, "thumbs_up", "boolean")
    await push(admin, fake_spec())
    await set_alias(admin, "dev", "support-chat", "support-chat@1")
    candidate = await push(admin, fake_spec(params={"temperature": 0.9}))
    started = await admin.post(
        "/admin/environments/dev/aliases/support-chat/rollout",
        json={"candidate": "support-chat@2", "reason": "try", "steps": [50, 100],
              "shadow": {"rate": 0}},
    )  # fmt: skip
    assert started.status_code == 201, started.text
    seen: dict[str, tuple[str, str]] = {}
    for i in range(40):
        answer = await data.post("/v1/chat/completions", json=chat_body(user=f"u{i}"))
        seen[answer.headers["x-pinyard-route"]] = (
            answer.headers["x-pinyard-request-id"],
            answer.headers["x-pinyard-bundle-digest"],
        )
    assert set(seen) == {"stable", "canary"}
    for request_id, _ in seen.values():
        await wait_for_record(admin, request_id)
        sent = await data.post(
            "/v1/feedback", json={"request_id": request_id, "metric": "thumbs_up", "value": False}
        )
        assert sent.status_code == 201, sent.text
    rows = {row.arm: row for row in stored(app.state.ctx)}
    assert rows["canary"].bundle_digest == candidate["digest"] == seen["canary"][1]
    assert rows["stable"].bundle_digest == seen["stable"][1] != candidate["digest"]
    assert rows["canary"].rollout_id == started.json()["id"]
    assert (
        rows["canary"].rollout_step
        == rows["stable"].rollout_step
        == started.json()["step"]["index"]
    )


async def test_an_answer_by_a_fallback_counts_for_the_version_routed_to(
    app: Any, admin: httpx.AsyncClient, data: httpx.AsyncClient
) -> None:
    await declare(admin, "thumbs_up", "boolean")
    await push(admin, fake_spec(name="backup"))
    failing = await push(admin, fake_spec(model="fake/error-500", fallbacks=["backup@1"]))
    await set_alias(admin, "dev", "support-chat", "support-chat@1")
    answer = await data.post("/v1/chat/completions", json=chat_body())
    assert answer.headers["x-pinyard-route"] == "fallback"
    request_id = answer.headers["x-pinyard-request-id"]
    record = await wait_for_record(admin, request_id)
    assert record["routed_digest"] == failing["digest"] != record["bundle_digest"]
    sent = await data.post(
        "/v1/feedback", json={"request_id": request_id, "metric": "thumbs_up", "value": True}
    )
    assert sent.status_code == 201, sent.text
    assert stored(app.state.ctx)[0].bundle_digest == failing["digest"]


@pytest.mark.parametrize(
    ("item", "status", "param", "code"),
    [
        ({"metric": "nope", "value": True}, 400, "metric", "metric_not_found"),
        ({"metric": "thumbs_up", "value": 1}, 400, "value", "invalid_feedback_value"),
        ({"metric": "thumbs_up", "value": "yes"}, 400, "value", "invalid_feedback_value"),
        ({"metric": "stars", "value": 4.5}, 400, "value", "invalid_feedback_value"),
        ({"metric": "stars", "value": 6}, 400, "value", "feedback_value_out_of_range"),
        ({"metric": "score", "value": -0.1}, 400, "value", "feedback_value_out_of_range"),
        ({"metric": "remark", "value": 3}, 400, "value", "invalid_feedback_value"),
        ({"metric": "thumbs_up"}, 400, "value", "invalid_request"),
        ({"metric": "thumbs_up", "value": True, "extra": 1}, 400, "extra", "invalid_request"),
        ({"metric": "thumbs_up", "value": True, "request_id": "req_unknown"}, 404,
         "request_id", "request_not_found"),
    ],
)  # fmt: skip
async def test_bad_feedback_is_refused_with_the_field_named_and_nothing_stored(
    app: Any,
    admin: httpx.AsyncClient,
    data: httpx.AsyncClient,
    item: dict[str, Any],
    status: int,
    param: str,
    code: str,
) -> None:
    await declare(admin, "thumbs_up", "boolean")
    await declare(admin, "stars", "integer", min=1, max=5)
    await declare(admin, "score", "float", min=0, max=1)
    await declare(admin, "remark", "comment")
    request_id = await answered(admin, data)
    single = await data.post("/v1/feedback", json={"request_id": request_id, **item})
    assert single.status_code == status, single.text
    assert single.json()["error"]["param"] == param
    assert single.json()["error"]["code"] == code
    good = {"request_id": request_id, "metric": "thumbs_up", "value": True}
    batch = await data.post(
        "/v1/feedback", json={"items": [good, {"request_id": request_id, **item}]}
    )
    assert batch.status_code == status, batch.text
    assert batch.json()["error"]["param"] == f"items[1].{param}"
    assert stored(app.state.ctx) == []  # the good item of the batch was not stored either


async def test_a_key_scores_only_its_own_environments_requests(
    app: Any, admin: httpx.AsyncClient, data: httpx.AsyncClient
) -> None:
    await declare(admin, "thumbs_up", "boolean")
    await push(admin, fake_spec())
    await set_alias(admin, "dev", "support-chat", "support-chat@1")
    await set_alias(admin, "staging", "support-chat", "support-chat@1")
    dev_key = (await make_key(admin, "dev", name="web-dev"))["key"]
    staging_key = (await make_key(admin, "staging", name="web-staging"))["key"]
    answer = await data.post(
        "/v1/chat/completions", json=chat_body(), headers={"Authorization": f"Bearer {dev_key}"}
    )
    request_id = answer.headers["x-pinyard-request-id"]
    await wait_for_record(admin, request_id)
    body = {"request_id": request_id, "metric": "thumbs_up", "value": True}
    other = await data.post(
        "/v1/feedback", json=body, headers={"Authorization": f"Bearer {staging_key}"}
    )
    assert other.status_code == 404, other.text
    assert other.json()["error"]["code"] == "request_not_found"
    assert (await data.post("/v1/feedback", json=body)).status_code == 401  # no key at all
    assert stored(app.state.ctx) == []
    own = await data.post("/v1/feedback", json=body, headers={"Authorization": f"Bearer {dev_key}"})
    assert own.status_code == 201, own.text
    assert [row.actor for row in stored(app.state.ctx)] == ["key:web-dev"]


async def test_a_key_limited_to_aliases_cannot_score_other_aliases(
    app: Any, admin: httpx.AsyncClient, data: httpx.AsyncClient
) -> None:
    await declare(admin, "thumbs_up", "boolean")
    request_id = await answered(admin, data)
    narrow = (await make_key(admin, "dev", name="billing-only", aliases=["billing"]))["key"]
    refused = await data.post(
        "/v1/feedback",
        json={"request_id": request_id, "metric": "thumbs_up", "value": True},
        headers={"Authorization": f"Bearer {narrow}"},
    )
    assert refused.status_code == 404
    assert stored(app.state.ctx) == []


async def test_feedback_days_later_is_bound_to_the_request_time(
    app: Any, admin: httpx.AsyncClient, data: httpx.AsyncClient
) -> None:
    await declare(admin, "thumbs_up", "boolean")
    request_id = await answered(admin, data)
    ctx: AppContext = app.state.ctx
    later = utcnow() + timedelta(days=3)
    ctx.outcomes.feedback.clock = lambda: later
    sent = await data.post(
        "/v1/feedback", json={"request_id": request_id, "metric": "thumbs_up", "value": True}
    )
    assert sent.status_code == 201, sent.text
    row = stored(ctx)[0]
    made = request_id_time(request_id)
    assert made is not None
    assert abs((row.request_created_at.replace(tzinfo=made.tzinfo) - made).total_seconds()) < 5
    assert row.created_at.replace(tzinfo=later.tzinfo) == later


async def test_a_request_still_in_the_write_buffer_is_found_there(
    settings: Settings, admin: httpx.AsyncClient
) -> None:
    # A writer that would hold records for a minute: the record is only in memory.
    application = create_app(
        make_settings(settings, record_flush_interval_s=60.0, record_batch_size=10_000)
    )
    async with (
        application.router.lifespan_context(application),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=application),
            base_url=BASE,
            headers=dict(admin.headers),
        ) as client,
    ):
        await declare(client, "thumbs_up", "boolean")
        spec = await push(client, fake_spec())
        await set_alias(client, "dev", "support-chat", "support-chat@1")
        answer = await client.post("/v1/chat/completions", json=chat_body())
        request_id = answer.headers["x-pinyard-request-id"]
        assert (await client.get(f"/admin/requests/{request_id}")).status_code == 404
        sent = await client.post(
            "/v1/feedback", json={"request_id": request_id, "metric": "thumbs_up", "value": True}
        )
        assert sent.status_code == 201, sent.text
        assert stored(application.state.ctx)[0].bundle_digest == spec["digest"]


async def test_a_recent_request_found_nowhere_is_a_retryable_503(
    admin: httpx.AsyncClient, data: httpx.AsyncClient
) -> None:
    await declare(admin, "thumbs_up", "boolean")
    fresh = new_request_id()  # e.g. answered by another replica, its record not written yet
    sent = await data.post(
        "/v1/feedback", json={"request_id": fresh, "metric": "thumbs_up", "value": True}
    )
    assert sent.status_code == 503, sent.text
    assert sent.headers["retry-after"] == "1"
    assert sent.json()["error"]["code"] == "request_not_recorded_yet"
    await asyncio.sleep(0)


def test_request_ids_carry_their_time() -> None:
    before = utcnow()
    made = request_id_time(new_request_id())
    assert made is not None and abs((made - before).total_seconds()) < 1
    assert request_id_time("req_not-an-id") is None
    assert request_id_time("chatcmpl-123") is None
