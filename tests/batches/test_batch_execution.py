"""Batches in the gateway's worker: the pinned digest, lineage per line, restart, cancel."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import openai
from sqlalchemy import func, select
from sqlmodel import Session

from app.main import create_app
from app.registry.batch_tables import BatchRequestRow
from app.registry.tables import RequestRecordRow
from tests.batches.conftest import (
    CHAT_URL,
    chat_file,
    jsonl,
    lines_of,
    upload,
    wait_until,
)
from tests.conftest import BASE, fake_spec, make_settings, push, set_alias, wait_for_record

DONE = ("completed", "failed", "cancelled", "expired")


def _client(app: Any) -> openai.AsyncOpenAI:
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app))
    return openai.AsyncOpenAI(
        base_url=f"{BASE}/v1", api_key="local", http_client=http, max_retries=0
    )


def _admin(app: Any) -> httpx.AsyncClient:
    from tests.conftest import ADMIN_TOKEN

    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=BASE,
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )


def _batch_records(app: Any) -> list[RequestRecordRow]:
    with Session(app.state.ctx.engine) as session:
        query = select(RequestRecordRow).where(RequestRecordRow.route == "batch")
        return list(session.execute(query).scalars())


async def _start(oai: openai.AsyncOpenAI, content: bytes) -> Any:
    uploaded = await upload(oai, content)
    return await oai.batches.create(
        input_file_id=uploaded.id, endpoint=CHAT_URL, completion_window="24h"
    )


async def test_a_batch_runs_every_line_with_its_lineage(
    app: Any, admin: httpx.AsyncClient, oai: openai.AsyncOpenAI
) -> None:
    pushed = await push(admin, fake_spec())
    await set_alias(admin, "dev", "support-chat", "support-chat@1")
    broken = {
        "custom_id": "bad-vars",
        "method": "POST",
        "url": CHAT_URL,
        "body": {"model": "support-chat", "messages": [{"role": "user", "content": "x"}]},
    }
    content = chat_file(5) + jsonl([broken])
    batch = await _start(oai, content)
    done = await wait_until(oai, batch.id, DONE)
    assert done.status == "completed"
    assert done.request_counts.total == 6
    assert (done.request_counts.completed, done.request_counts.failed) == (5, 1)
    assert done.completed_at and done.in_progress_at and done.finalizing_at

    output = await oai.files.content(done.output_file_id)
    lines = lines_of(output.content)
    assert [line["custom_id"] for line in lines] == [f"row-{i}" for i in range(5)]
    output_file = await oai.files.retrieve(done.output_file_id)
    assert output_file.bytes == len(output.content) and output_file.purpose == "batch_output"
    first = lines[0]
    assert first["id"].startswith("batch_req_") and first["error"] is None
    response = first["response"]
    assert response["status_code"] == 200
    assert response["body"]["choices"][0]["message"]["content"] == "[fake/echo] question 0"
    headers = response["headers"]
    assert headers["x-pinyard-bundle"] == "support-chat@1"
    assert headers["x-pinyard-bundle-digest"] == pushed["digest"]
    assert headers["x-pinyard-route"] == "batch"
    assert headers["x-pinyard-request-id"] == response["request_id"]

    errors = lines_of((await oai.files.content(done.error_file_id)).content)
    assert [e["custom_id"] for e in errors] == ["bad-vars"]
    assert errors[0]["response"]["status_code"] == 400
    assert errors[0]["error"]["code"] == "missing_variables"

    record = await wait_for_record(admin, response["request_id"])
    assert record["route"] == "batch" and record["alias"] == "support-chat"
    assert record["bundle_digest"] == pushed["digest"]


async def test_an_alias_flip_mid_batch_leaves_every_line_on_the_submitted_digest(
    settings: Any,
) -> None:
    app = create_app(make_settings(settings, batch_concurrency=2))
    async with app.router.lifespan_context(app), _admin(app) as admin:
        oai = _client(app)
        first = await push(admin, fake_spec(model="fake/slow-40"))
        second = await push(admin, fake_spec(model="fake/echo", params={"temperature": 0.5}))
        await set_alias(admin, "dev", "support-chat", "support-chat@1")
        batch = await _start(oai, chat_file(20))
        await wait_until_progress(oai, batch.id, 4)
        await set_alias(admin, "dev", "support-chat", "support-chat@2", reason="flip mid-batch")
        live = await oai.chat.completions.with_raw_response.create(
            model="support-chat",
            messages=[{"role": "user", "content": "now"}],
            extra_body={"variables": {"customer_name": "Ann"}},
        )
        assert live.headers["x-pinyard-bundle-digest"] == second["digest"]
        done = await wait_until(oai, batch.id, DONE)
        assert done.request_counts.completed == 20
        lines = lines_of((await oai.files.content(done.output_file_id)).content)
        digests = {line["response"]["headers"]["x-pinyard-bundle-digest"] for line in lines}
        assert digests == {first["digest"]}
        await oai.close()


async def wait_until_progress(oai: openai.AsyncOpenAI, batch_id: str, finished: int) -> Any:
    for _ in range(600):
        batch = await oai.batches.retrieve(batch_id)
        counts = batch.request_counts
        assert counts is not None
        if counts.completed + counts.failed >= finished:
            return batch
        await asyncio.sleep(0.02)
    raise AssertionError(f"batch {batch_id} made no progress")


async def test_a_restart_mid_batch_resumes_without_running_a_finished_line_again(
    settings: Any,
) -> None:
    tuned = make_settings(settings, batch_concurrency=3)
    first_app = create_app(tuned)
    async with first_app.router.lifespan_context(first_app), _admin(first_app) as admin:
        oai = _client(first_app)
        await push(admin, fake_spec(model="fake/slow-60"))
        await set_alias(admin, "dev", "support-chat", "support-chat@1")
        batch = await _start(oai, chat_file(30))
        running = await wait_until_progress(oai, batch.id, 6)
        assert running.status == "in_progress"
        await oai.close()
    # The first gateway stopped: lines in flight finished and were written; the rest wait.
    with Session(first_app.state.ctx.engine) as session:
        before = {
            row.custom_id: row.request_id
            for row in session.execute(
                select(BatchRequestRow).where(BatchRequestRow.status == "completed")
            ).scalars()
        }
        pending = session.execute(
            select(func.count()).where(BatchRequestRow.status == "pending")
        ).scalar_one()
    assert 6 <= len(before) < 30 and pending == 30 - len(before)

    second_app = create_app(tuned)
    async with second_app.router.lifespan_context(second_app):
        oai = _client(second_app)
        done = await wait_until(oai, batch.id, DONE)
        assert done.status == "completed" and done.request_counts.completed == 30
        lines = lines_of((await oai.files.content(done.output_file_id)).content)
        await oai.close()
    by_id = {line["custom_id"]: line["response"]["request_id"] for line in lines}
    assert sorted(by_id) == sorted(f"row-{i}" for i in range(30)) and len(lines) == 30
    assert all(by_id[custom_id] == request_id for custom_id, request_id in before.items())
    records = _batch_records(second_app)
    assert len(records) == 30  # one record per line: none ran twice
    assert {r.id for r in records} == set(by_id.values())


async def test_cancel_stops_new_lines_promptly(settings: Any) -> None:
    app = create_app(make_settings(settings, batch_concurrency=2))
    async with app.router.lifespan_context(app), _admin(app) as admin:
        oai = _client(app)
        await push(admin, fake_spec(model="fake/slow-50"))
        await set_alias(admin, "dev", "support-chat", "support-chat@1")
        batch = await _start(oai, chat_file(200))
        before = (await wait_until_progress(oai, batch.id, 2)).request_counts
        loop = asyncio.get_running_loop()
        asked = loop.time()
        await oai.batches.cancel(batch.id)
        done = await wait_until(oai, batch.id, DONE, timeout_s=5)
        assert loop.time() - asked < 1.0  # the two lines in flight finish, nothing new starts
        assert done.status == "cancelled" and done.cancelled_at is not None
        counts = done.request_counts
        # Progress is written every 0.25 s (about ten lines here), plus the two in flight;
        # left running, all 200 would take five seconds.
        assert counts.completed + counts.failed <= before.completed + 14
        await asyncio.sleep(0.3)
        assert (await oai.batches.retrieve(batch.id)).request_counts == counts
        lines = lines_of((await oai.files.content(done.output_file_id)).content)
        assert len(lines) == counts.completed
        await oai.close()
