"""Files and batches through the official OpenAI SDK: upload, pin, read, list, cancel, refuse."""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from app.registry.batch_tables import BatchRequestRow, BatchRow, FileRow
from tests.batches.conftest import CHAT_URL, chat_file, chat_line, jsonl, upload
from tests.conftest import BASE, fake_spec, make_settings, push, set_alias
from tests.governance.conftest import make_key


async def _alias(admin: httpx.AsyncClient, **spec: Any) -> dict[str, Any]:
    pushed = await push(admin, fake_spec(**spec))
    await set_alias(
        admin, "dev", spec.get("name", "support-chat"), f"{pushed['name']}@{pushed['version']}"
    )
    return pushed


def _count(app: Any, table: Any) -> int:
    with Session(app.state.ctx.engine) as session:
        return int(session.execute(select(func.count()).select_from(table)).scalar_one())


async def test_upload_create_and_read_back_with_the_sdk(
    app: Any, admin: httpx.AsyncClient, oai: openai.AsyncOpenAI
) -> None:
    pushed = await _alias(admin)
    content = chat_file(3)
    uploaded = await upload(oai, content)
    assert uploaded.id.startswith("file-") and uploaded.purpose == "batch"
    assert uploaded.bytes == len(content) and uploaded.filename == "input.jsonl"
    assert (await oai.files.retrieve(uploaded.id)).id == uploaded.id
    assert (await oai.files.content(uploaded.id)).content == content

    batch = await oai.batches.create(
        input_file_id=uploaded.id,
        endpoint=CHAT_URL,
        completion_window="24h",
        metadata={"job": "nightly"},
    )
    assert batch.id.startswith("batch_") and batch.endpoint == CHAT_URL
    assert batch.request_counts is not None and batch.request_counts.total == 3
    assert batch.metadata == {"job": "nightly"}
    assert batch.expires_at is not None and batch.expires_at - batch.created_at == 24 * 3600
    pinned = (batch.model_extra or {})["pinyard"]
    assert pinned == {
        "environment": "dev",
        "alias": "support-chat",
        "bundle": "support-chat@1",
        "bundle_digest": pushed["digest"],
    }
    assert (await oai.batches.retrieve(batch.id)).id == batch.id

    second = await oai.batches.create(
        input_file_id=uploaded.id, endpoint=CHAT_URL, completion_window="24h"
    )
    page = await oai.batches.list(limit=1)
    assert [b.id for b in page.data] == [second.id] and page.has_more
    rest = await oai.batches.list(limit=10, after=second.id)
    assert [b.id for b in rest.data] == [batch.id] and not rest.has_more


async def test_malformed_lines_are_refused_with_their_numbers_and_nothing_is_stored(
    app: Any, admin: httpx.AsyncClient, oai: openai.AsyncOpenAI
) -> None:
    await _alias(admin)
    good = chat_line("a", "fine")
    content = b"\n".join(
        [
            jsonl([good]).strip(),
            b"{not json",
            jsonl([{**chat_line("b", "x"), "method": "GET"}]).strip(),
            b"",  # blank lines are skipped, numbers still count them
            jsonl([chat_line("a", "again")]).strip(),
            jsonl([chat_line("c", "other", model="billing")]).strip(),
            jsonl([{**chat_line("d", "x"), "url": "/v1/completions"}]).strip(),
            jsonl([chat_line("e", "x", stream=True)]).strip(),
            jsonl(
                [
                    {
                        "custom_id": "f",
                        "method": "POST",
                        "url": CHAT_URL,
                        "body": {"model": "support-chat"},
                    }
                ]
            ).strip(),
        ]
    )
    with pytest.raises(openai.BadRequestError) as refused:
        await upload(oai, content)
    error = refused.value.body
    assert isinstance(error, dict)
    assert error["code"] == "invalid_batch_file" and error["param"] == "file"
    message = error["message"]
    for expected in (
        "line 2: not valid JSON",
        "line 3: 'method' must be \"POST\"",
        "line 5: custom_id 'a' repeats line 1",
        "line 6: model 'billing' differs from the file's 'support-chat'",
        "line 7: 'url' must be one of /v1/chat/completions, /v1/embeddings",
        "line 8: 'body.stream' is not supported in a batch",
        "line 9: body: Invalid 'messages': this field is required",
    ):
        assert expected in message, message
    assert "line 1:" not in message and "line 4:" not in message
    assert _count(app, FileRow) == 0


async def test_oversize_and_empty_files_and_wrong_purpose(
    settings: Any, admin: httpx.AsyncClient
) -> None:
    from app.main import create_app

    small = create_app(make_settings(settings, batch_max_file_bytes=200))
    async with small.router.lifespan_context(small):
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=small))
        client = openai.AsyncOpenAI(
            base_url=f"{BASE}/v1", api_key="local", http_client=http, max_retries=0
        )
        big = chat_file(5)
        assert len(big) > 200
        with pytest.raises(openai.APIStatusError) as too_big:
            await upload(client, big)
        assert too_big.value.status_code == 413
        assert too_big.value.body["code"] == "request_too_large"  # type: ignore[index]
        with pytest.raises(openai.BadRequestError) as empty:
            await upload(client, b"\n\n")
        assert "has no requests" in str(empty.value)
        with pytest.raises(openai.BadRequestError) as purpose:
            await client.files.create(
                file=("x.jsonl", b"{}", "application/jsonl"), purpose="assistants"
            )
        assert purpose.value.body["param"] == "purpose"  # type: ignore[index]
        assert _count(small, FileRow) == 0
        await client.close()


async def test_creation_refusals_leave_nothing_half_created(
    app: Any, admin: httpx.AsyncClient, oai: openai.AsyncOpenAI
) -> None:
    await _alias(admin)
    embed = await push(
        admin,
        fake_spec(
            name="embedder", kind="embedding", model="fake/embed", prompt={}, variables_schema=None
        ),
    )
    await set_alias(admin, "dev", "embedder", f"embedder@{embed['version']}")
    uploaded = await upload(oai, chat_file(2))
    unknown = await upload(oai, chat_file(2, model="nobody"))
    wrong_kind = await upload(oai, chat_file(2, model="embedder"))

    async def refused(exc: type[openai.APIStatusError], **body: Any) -> dict[str, Any]:
        args = {"input_file_id": uploaded.id, "endpoint": CHAT_URL, "completion_window": "24h"}
        with pytest.raises(exc) as caught:
            await oai.batches.create(**{**args, **body})
        assert isinstance(caught.value.body, dict)
        return caught.value.body

    assert (await refused(openai.BadRequestError, endpoint="/v1/embeddings"))["param"] == "endpoint"
    assert (await refused(openai.BadRequestError, endpoint="/v1/images"))["param"] == "endpoint"
    assert (await refused(openai.BadRequestError, completion_window="soon"))[
        "param"
    ] == "completion_window"
    assert (await refused(openai.NotFoundError, input_file_id="file-nope"))["param"] == "file_id"
    assert (await refused(openai.NotFoundError, input_file_id=unknown.id))[
        "code"
    ] == "model_not_found"
    kind = await refused(openai.BadRequestError, input_file_id=wrong_kind.id)
    assert "serves a embedding model" in kind["message"] or "embedding" in kind["message"]
    assert (await refused(openai.BadRequestError, metadata={"k": 1}))["param"] == "metadata"
    assert _count(app, BatchRow) == 0 and _count(app, BatchRequestRow) == 0


async def test_cancel_and_environments(
    app: Any, admin: httpx.AsyncClient, oai: openai.AsyncOpenAI
) -> None:
    await _alias(admin)
    uploaded = await upload(oai, chat_file(2))
    batch = await oai.batches.create(
        input_file_id=uploaded.id, endpoint=CHAT_URL, completion_window="24h"
    )
    cancelled = await oai.batches.cancel(batch.id)
    assert cancelled.status in ("cancelling", "cancelled") and cancelled.cancelling_at is not None
    with pytest.raises(openai.NotFoundError):
        await oai.batches.cancel("batch_missing")

    # Local mode serves one environment: asking for another is refused, not ignored.
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        other = await http.get("/v1/batches", headers={"x-pinyard-environment": "prod"})
        assert (
            other.status_code == 403 and other.json()["error"]["code"] == "key_environment_mismatch"
        )
        # A key of prod sees none of dev's files or batches; a key scoped to another
        # alias may not upload lines naming support-chat.
        await push(admin, fake_spec(name="billing"))
        await set_alias(admin, "prod", "support-chat", "support-chat@1")
        prod = (await make_key(admin, "prod", name="prod-batch"))["key"]
        scoped = (await make_key(admin, "prod", name="billing-only", aliases=["billing"]))["key"]
        as_prod = {"Authorization": f"Bearer {prod}"}
        assert (await http.get(f"/v1/batches/{batch.id}", headers=as_prod)).status_code == 404
        assert (
            await http.get(f"/v1/files/{uploaded.id}/content", headers=as_prod)
        ).status_code == 404
        assert (await http.get("/v1/batches", headers=as_prod)).json()["data"] == []
        files = {"file": ("in.jsonl", chat_file(1), "application/jsonl")}
        denied = await http.post(
            "/v1/files",
            files=files,
            data={"purpose": "batch"},
            headers={"Authorization": f"Bearer {scoped}"},
        )
        assert denied.status_code == 403 and denied.json()["error"]["code"] == "alias_not_allowed"
        allowed = await http.post(
            "/v1/files", files=files, data={"purpose": "batch"}, headers=as_prod
        )
        assert allowed.status_code == 200, allowed.text
        assert allowed.json()["pinyard"]["environment"] == "prod"
