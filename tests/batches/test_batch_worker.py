"""The worker's bounds with a stand-in endpoint: per-batch and per-provider concurrency,
rate-limit backoff that retries a line instead of failing it, and expiry."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import openai
from sqlmodel import Session

from app.batches.endpoints import RowResult
from app.batches.worker import BatchWorker, WorkerOptions
from app.registry.batch_tables import BatchRow
from app.registry.snapshot import ServedBundle
from tests.batches.conftest import CHAT_URL, chat_file, lines_of, upload, wait_until
from tests.conftest import fake_spec, push, set_alias

DONE = ("completed", "cancelled", "expired")


@dataclass
class Recorder:
    """A batch endpoint that answers after ``delay_s``, counting what is in flight."""

    delay_s: float = 0.02
    rate_limited: int = 0  # answer 429 to the first N calls
    retry_after: float | None = 0.3
    kind: str = "chat"
    in_flight: int = 0
    most: int = 0
    calls: list[float] = field(default_factory=list)

    def check(self, body: dict[str, Any]) -> None:
        return None

    async def run(
        self, body: dict[str, Any], environment: str, alias: str, bundle: ServedBundle
    ) -> RowResult:
        self.calls.append(time.monotonic())
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        try:
            await asyncio.sleep(self.delay_s)
        finally:
            self.in_flight -= 1
        if len(self.calls) <= self.rate_limited:
            envelope = {"error": {"code": "rate_limit_exceeded", "message": "slow down"}}
            return RowResult(429, envelope, f"req_{len(self.calls):032x}", {}, self.retry_after)
        answer = {"echo": body["messages"][0]["content"], "bundle": bundle.label}
        return RowResult(200, answer, f"req_{len(self.calls):032x}", {"x-pinyard-route": "batch"})


async def _worker(app: Any, endpoint: Recorder, **options: Any) -> BatchWorker:
    ctx = app.state.ctx
    await ctx.batches.close(grace_s=0)  # the app's own worker steps aside
    return BatchWorker(
        ctx.engine,
        ctx.snapshots,
        {CHAT_URL: endpoint},
        WorkerOptions(poll_interval_s=0.05, **options),
    )


async def _batch(oai: openai.AsyncOpenAI, rows: int) -> str:
    uploaded = await upload(oai, chat_file(rows))
    created = await oai.batches.create(
        input_file_id=uploaded.id, endpoint=CHAT_URL, completion_window="24h"
    )
    return created.id


async def _running(worker: BatchWorker) -> asyncio.Task[None]:
    return asyncio.create_task(worker.run())


async def test_concurrency_is_bounded_per_batch_and_per_provider(
    app: Any, admin: httpx.AsyncClient, oai: openai.AsyncOpenAI
) -> None:
    await push(admin, fake_spec())
    await set_alias(admin, "dev", "support-chat", "support-chat@1")
    per_batch = Recorder()
    worker = await _worker(app, per_batch, concurrency=3, provider_concurrency=50)
    task = await _running(worker)
    first = await _batch(oai, 30)
    await wait_until(oai, first, DONE)
    assert per_batch.most == 3
    await worker.close(grace_s=1)
    await task

    shared = Recorder()
    worker2 = await _worker(app, shared, concurrency=8, provider_concurrency=5, max_active=2)
    task2 = await _running(worker2)
    ids = [await _batch(oai, 40), await _batch(oai, 40)]
    for batch_id in ids:
        done = await wait_until(oai, batch_id, DONE)
        assert done.request_counts.completed == 40
    assert shared.most == 5  # two batches of 8 share the provider's 5
    await worker2.close(grace_s=1)
    await task2


async def test_rate_limited_lines_wait_for_the_provider_and_are_retried_not_failed(
    app: Any, admin: httpx.AsyncClient, oai: openai.AsyncOpenAI
) -> None:
    await push(admin, fake_spec())
    await set_alias(admin, "dev", "support-chat", "support-chat@1")
    endpoint = Recorder(rate_limited=1, retry_after=0.4)
    worker = await _worker(app, endpoint, concurrency=1)
    task = await _running(worker)
    batch_id = await _batch(oai, 3)
    done = await wait_until(oai, batch_id, DONE)
    assert (done.request_counts.completed, done.request_counts.failed) == (3, 0)
    # The 429 closed the lane for its Retry-After before the line was tried again.
    assert len(endpoint.calls) == 4
    assert endpoint.calls[1] - endpoint.calls[0] >= 0.4
    lines = lines_of((await oai.files.content(done.output_file_id)).content)
    assert [line["response"]["body"]["echo"] for line in lines] == [
        f"question {i}" for i in range(3)
    ]
    await worker.close(grace_s=1)
    await task


async def test_an_expired_batch_fails_its_remaining_lines(
    app: Any, admin: httpx.AsyncClient, oai: openai.AsyncOpenAI
) -> None:
    await push(admin, fake_spec())
    await set_alias(admin, "dev", "support-chat", "support-chat@1")
    endpoint = Recorder(delay_s=0.05)
    worker = await _worker(app, endpoint, concurrency=1)
    batch_id = await _batch(oai, 50)
    with Session(app.state.ctx.engine) as session:
        row = session.get(BatchRow, batch_id)
        assert row is not None
        row.expires_at = row.created_at + timedelta(milliseconds=500)
        session.add(row)
        session.commit()
    task = await _running(worker)
    done = await wait_until(oai, batch_id, DONE)
    assert done.status == "expired" and done.expired_at is not None
    counts = done.request_counts
    assert 0 < counts.completed < 50 and counts.completed + counts.failed == 50
    errors = lines_of((await oai.files.content(done.error_file_id)).content)
    assert len(errors) == counts.failed
    assert {e["error"]["code"] for e in errors} == {"batch_expired"}
    await worker.close(grace_s=1)
    await task
