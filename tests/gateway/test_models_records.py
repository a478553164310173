"""/v1/models, /v1/embeddings, request records and the record writer."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import openai
import pytest

from app.main import create_app
from app.registry.record_repo import RequestRecord
from app.registry.tables import RequestRecordRow
from app.telemetry.records import RecordWriter
from tests.conftest import (
    ADMIN_TOKEN,
    BASE,
    fake_spec,
    make_settings,
    push,
    set_alias,
    wait_for_record,
)

VARS = {"variables": {"customer_name": "Ada"}}


async def test_models_lists_the_aliases_of_the_environment(
    admin: httpx.AsyncClient, oai: openai.AsyncOpenAI
) -> None:
    await push(admin, fake_spec())
    await set_alias(admin, "dev", "support-chat", "support-chat@1")
    await set_alias(admin, "staging", "other", "support-chat@1")
    models = await oai.models.list()
    assert [m.id for m in models.data] == ["support-chat"]
    extra = models.data[0].model_extra or {}
    assert extra["pinyard"]["bundle"] == "support-chat@1" and extra["pinyard"]["fake"] is True
    assert models.data[0].owned_by == "pinyard-fake"


async def test_embeddings_through_an_embedding_alias(
    admin: httpx.AsyncClient, oai: openai.AsyncOpenAI
) -> None:
    await push(
        admin,
        {
            "name": "docs-embed",
            "kind": "embedding",
            "model": "fake/embed",
            "params": {"dimensions": 8},
        },
    )
    await set_alias(admin, "dev", "docs-embed", "docs-embed@1")
    raw = await oai.embeddings.with_raw_response.create(model="docs-embed", input=["a", "b"])
    result = raw.parse()
    assert [len(item.embedding) for item in result.data] == [8, 8]
    assert raw.headers["x-pinyard-bundle"] == "docs-embed@1"
    again = await oai.embeddings.create(model="docs-embed", input=["a"])
    assert again.data[0].embedding == result.data[0].embedding


async def test_chat_on_an_embedding_alias_is_400(
    admin: httpx.AsyncClient, oai: openai.AsyncOpenAI
) -> None:
    await push(admin, {"name": "docs-embed", "kind": "embedding", "model": "fake/embed"})
    await set_alias(admin, "dev", "docs-embed", "docs-embed@1")
    with pytest.raises(openai.BadRequestError, match="embedding"):
        await oai.chat.completions.create(
            model="docs-embed", messages=[{"role": "user", "content": "x"}]
        )


async def test_request_record_answers_which_version(
    admin: httpx.AsyncClient, oai: openai.AsyncOpenAI
) -> None:
    bundle = await push(admin, fake_spec())
    await set_alias(admin, "dev", "support-chat", "support-chat@1")
    raw = await oai.chat.completions.with_raw_response.create(
        model="support-chat",
        messages=[{"role": "user", "content": "x y"}],
        temperature=1.0,
        extra_body=VARS,
    )
    record = await wait_for_record(admin, raw.headers["x-pinyard-request-id"])
    assert record["environment"] == "dev" and record["alias"] == "support-chat"
    assert record["bundle_digest"] == bundle["digest"] and record["bundle_version"] == 1
    assert record["route"] == "stable" and record["provider_model"] == "fake/echo"
    assert record["status"] == 200 and record["input_digest"].startswith("sha256:")
    assert record["total_tokens"] > 0 and record["latency_ms"] > 0
    assert record["ignored_params"] == ["temperature"]
    assert record["request_body"] is None  # payloads are off by default


async def test_streamed_and_failed_requests_are_recorded(admin: httpx.AsyncClient) -> None:
    await push(admin, fake_spec())
    await set_alias(admin, "dev", "support-chat", "support-chat@1")
    streamed = await admin.post(
        "/v1/chat/completions",
        json={
            "model": "support-chat",
            "stream": True,
            "messages": [{"role": "user", "content": "a"}],
            **VARS,
        },
    )
    record = await wait_for_record(admin, streamed.headers["x-pinyard-request-id"])
    assert record["stream"] is True and record["ttft_ms"] is not None
    failed = await admin.post(
        "/v1/chat/completions",
        json={"model": "support-chat", "messages": [{"role": "user", "content": "a"}]},
    )
    assert failed.status_code == 400
    record = await wait_for_record(admin, failed.headers["x-pinyard-request-id"])
    assert record["status"] == 400 and "customer_name" in record["error"]


async def test_payloads_are_stored_only_when_enabled(settings: Any) -> None:
    app = create_app(make_settings(settings, log_payloads=True))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url=BASE,
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        ) as admin,
    ):
        await push(admin, fake_spec())
        await set_alias(admin, "dev", "support-chat", "support-chat@1")
        answer = await admin.post(
            "/v1/chat/completions",
            json={"model": "support-chat", "messages": [{"role": "user", "content": "a"}], **VARS},
        )
        record = await wait_for_record(admin, answer.headers["x-pinyard-request-id"])
    assert record["request_body"]["variables"] == {"customer_name": "Ada"}
    assert record["response_body"]["choices"][0]["message"]["content"]


async def test_a_full_record_queue_never_blocks_or_fails_requests(
    app: Any, admin: httpx.AsyncClient
) -> None:
    ctx = app.state.ctx
    await ctx.records.close()  # stop the writer: nothing drains the queue now
    ctx.records = RecordWriter(
        ctx.engine, ctx.metrics, queue_size=2, batch_size=10, flush_interval_s=0.05
    )
    await push(admin, fake_spec())
    await set_alias(admin, "dev", "support-chat", "support-chat@1")
    for _ in range(6):
        response = await admin.post(
            "/v1/chat/completions",
            json={"model": "support-chat", "messages": [{"role": "user", "content": "a"}], **VARS},
        )
        assert response.status_code == 200
    assert ctx.records.dropped == 4
    metrics = (await admin.get("/metrics")).text
    assert 'pinyard_request_records_dropped_total{reason="queue_full"} 4.0' in metrics
    await ctx.records.close()  # a clean stop flushes what was queued
    assert not ctx.records.incoming


async def test_record_writer_flushes_on_close(app: Any) -> None:
    ctx = app.state.ctx
    writer = RecordWriter(
        ctx.engine, ctx.metrics, queue_size=100, batch_size=50, flush_interval_s=10
    )
    writer.start()
    for i in range(5):
        writer.submit(
            RequestRecord(
                id=f"req_{i}",
                created_at=datetime.now(UTC),
                environment="dev",
                endpoint="chat.completions",
                status=200,
            )
        )
    await writer.close()
    assert ctx.registry.request_record("req_4")["status"] == 200


async def test_health_and_readiness(admin: httpx.AsyncClient) -> None:
    assert (await admin.get("/healthz")).json() == {"status": "ok"}
    ready = await admin.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"


def test_a_request_record_has_every_column_of_request_records() -> None:
    columns = {column.name for column in RequestRecordRow.__table__.columns}  # type: ignore[attr-defined]
    assert set(RequestRecord._fields) == columns


async def test_a_written_record_reads_back_field_for_field(app: Any) -> None:
    ctx = app.state.ctx
    writer = RecordWriter(
        ctx.engine, ctx.metrics, queue_size=10, batch_size=10, flush_interval_s=10
    )
    writer.start()
    created = datetime(2026, 11, 22, 10, 30, 15, 123456, tzinfo=UTC)
    writer.submit(
        RequestRecord(
            id="req_roundtrip",
            created_at=created,
            environment="dev",
            endpoint="chat.completions",
            status=502,
            alias="support-chat",
            stream=True,
            attempts='[{"model": "fake/echo", "ok": false}]',
            latency_ms=1.5,
            error="upstream failed",
            guardrail_blocked=True,
            rollout_step=2,
        )
    )
    await writer.close()
    stored = ctx.registry.request_record("req_roundtrip")
    assert stored["created_at"] == created.isoformat()
    assert stored["stream"] is True and stored["guardrail_blocked"] is True
    assert stored["attempts"] == [{"model": "fake/echo", "ok": False}]
    assert (stored["status"], stored["latency_ms"], stored["rollout_step"]) == (502, 1.5, 2)
    assert stored["error"] == "upstream failed" and stored["request_body"] is None
