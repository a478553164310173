"""The request-record writer through a database outage, in-process.

An outage is simulated at the writer's one insert call (it raises what
SQLAlchemy raises when the server refuses connections); everything around it
is real: queue, bounded buffer, backoff, metrics, readiness, the database.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy.exc import DataError, OperationalError

from app.errors import NotFoundError
from app.registry.record_repo import RequestRecord
from app.telemetry.records import RecordWriter


def _row(request_id: str) -> RequestRecord:
    return RequestRecord(
        id=request_id,
        created_at=datetime.now(UTC),
        environment="dev",
        endpoint="chat.completions",
        status=200,
    )


class Outage:
    """While ``down``, every insert fails the way an unreachable database does."""

    def __init__(self, writer: RecordWriter, monkeypatch: pytest.MonkeyPatch) -> None:
        self.down = True
        real = writer._insert

        def insert(rows: list[RequestRecord]) -> None:
            if self.down:
                raise OperationalError("INSERT INTO request_records", {}, ConnectionRefusedError())
            real(rows)

        monkeypatch.setattr(writer, "_insert", insert)


async def _eventually(check: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "condition never held"
        await asyncio.sleep(0.01)


def _writer(app: Any, **overrides: Any) -> RecordWriter:
    ctx = app.state.ctx
    options: dict[str, Any] = {
        "queue_size": 100,
        "batch_size": 4,
        "flush_interval_s": 0.01,
        "buffer_size": 10,
        "retry_max_s": 0.05,
        **overrides,
    }
    writer = RecordWriter(ctx.engine, ctx.metrics, **options)
    return writer


def _stored(app: Any, request_id: str) -> bool:
    try:
        app.state.ctx.registry.request_record(request_id)
    except NotFoundError:
        return False
    return True


async def test_failed_writes_wait_in_a_bounded_buffer_and_are_written_on_recovery(
    app: Any, admin: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    await app.state.ctx.records.close()
    writer = app.state.ctx.records = _writer(app)
    outage = Outage(writer, monkeypatch)
    writer.start()
    for i in range(14):
        assert writer.submit(_row(f"req_buf_{i}"))  # never refused at submit

    await _eventually(lambda: writer.dropped == 4)
    assert writer.buffered == 10 and writer.last_error is not None
    ready = await admin.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "degraded"
    assert "request records" in ready.json()["reason"]
    metrics = (await admin.get("/metrics")).text
    assert 'pinyard_request_records_dropped_total{reason="buffer_full"} 4.0' in metrics
    assert "pinyard_request_records_buffered 10.0" in metrics

    outage.down = False
    await _eventually(lambda: writer.buffered == 0 and writer.last_error is None)
    assert all(_stored(app, f"req_buf_{i}") for i in range(10))  # the oldest were kept
    assert not any(_stored(app, f"req_buf_{i}") for i in range(10, 14))
    assert (await admin.get("/readyz")).json()["status"] == "ready"
    await writer.close()


async def test_a_retried_batch_that_had_landed_is_not_written_twice(app: Any) -> None:
    await app.state.ctx.records.close()
    writer = _writer(app)
    writer.start()
    writer.submit(_row("req_dup_a"))
    await _eventually(lambda: _stored(app, "req_dup_a"))
    for request_id in ("req_dup_a", "req_dup_b", "req_dup_c"):  # as after a lost commit ack
        writer.submit(_row(request_id))
    await writer.close()
    assert _stored(app, "req_dup_b") and _stored(app, "req_dup_c")
    assert writer.dropped == 0 and not writer.pending


async def test_a_row_the_database_refuses_does_not_hold_back_the_others(
    app: Any, admin: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    await app.state.ctx.records.close()
    writer = app.state.ctx.records = _writer(app)
    real = writer._insert

    def insert(rows: list[RequestRecord]) -> None:
        if any(row.id == "req_bad" for row in rows):
            raise DataError("INSERT INTO request_records", {}, ValueError("value too long"))
        real(rows)

    monkeypatch.setattr(writer, "_insert", insert)
    writer.start()
    for request_id in ("req_ok_1", "req_bad", "req_ok_2"):
        writer.submit(_row(request_id))
    await writer.close()
    assert _stored(app, "req_ok_1") and _stored(app, "req_ok_2")
    assert not _stored(app, "req_bad")
    metrics = (await admin.get("/metrics")).text
    assert 'pinyard_request_records_dropped_total{reason="write_failed"} 1.0' in metrics


async def test_close_while_the_database_is_away_gives_up_after_its_timeout(
    app: Any, admin: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    await app.state.ctx.records.close()
    writer = app.state.ctx.records = _writer(app)
    Outage(writer, monkeypatch)
    writer.start()
    for i in range(3):
        writer.submit(_row(f"req_lost_{i}"))
    started = asyncio.get_running_loop().time()
    await writer.close(timeout_s=0.3)
    assert asyncio.get_running_loop().time() - started < 2.0
    assert writer.dropped == 3 and writer.buffered == 0
    metrics = (await admin.get("/metrics")).text
    assert 'pinyard_request_records_dropped_total{reason="shutdown"} 3.0' in metrics


async def test_close_during_a_write_waits_for_it_and_flushes_the_rest(
    app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    await app.state.ctx.records.close()
    writer = _writer(app, batch_size=2)
    real = writer._insert
    writing = asyncio.Event()
    loop = asyncio.get_running_loop()

    def slow_insert(rows: list[RequestRecord]) -> None:
        loop.call_soon_threadsafe(writing.set)
        asyncio.run_coroutine_threadsafe(asyncio.sleep(0.2), loop).result()
        real(rows)

    monkeypatch.setattr(writer, "_insert", slow_insert)
    writer.start()
    for i in range(5):
        writer.submit(_row(f"req_close_{i}"))
    await writing.wait()  # a batch is in the database's hands now
    await writer.close()
    assert all(_stored(app, f"req_close_{i}") for i in range(5))
    assert writer.dropped == 0
