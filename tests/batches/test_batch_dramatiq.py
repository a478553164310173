"""The distributed path: the gateway hands chunks to real Dramatiq workers through a real
broker (RabbitMQ and Redis, as this machine runs them); skipped when a broker is away."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import openai
import pytest
from sqlalchemy import select
from sqlmodel import Session

from app.main import create_app
from app.registry.batch_tables import BatchRequestRow
from app.registry.tables import RequestRecordRow
from tests.batches.conftest import CHAT_URL, chat_file, lines_of, upload, wait_until
from tests.conftest import ADMIN_TOKEN, BASE, fake_spec, make_settings, push, set_alias

pytest.importorskip("dramatiq")

ROOT = Path(__file__).resolve().parents[2]
BROKERS = {
    "rabbitmq": os.environ.get("PINYARD_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F"),
    "redis": os.environ.get("PINYARD_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"),
}


def _reachable(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 0), 0.5):
            return True
    except OSError:
        return False


@pytest.fixture(params=sorted(BROKERS))
def broker_url(request: pytest.FixtureRequest) -> str:
    url = BROKERS[request.param]
    if not _reachable(url):
        pytest.skip(f"no {request.param} broker at {url}")
    return url


@pytest.fixture
def queue(broker_url: str) -> Iterator[str]:
    """A queue of this test's own, removed afterwards."""
    name = f"pinyard-test-{uuid.uuid4().hex[:10]}"
    yield name
    from app.batches.chunk_queue import make_broker

    broker = make_broker(broker_url)
    if broker_url.startswith("amqp"):
        channel = broker.channel  # type: ignore[attr-defined]
        for suffix in ("", ".DQ", ".XQ"):
            channel.queue_delete(name + suffix)
    else:
        broker.flush(name)
    broker.close()


class Workers:
    """``dramatiq app.workers.batch_worker`` processes, started and stopped by the test."""

    def __init__(self, settings: Any, broker_url: str, queue: str) -> None:
        self.env = {
            **os.environ,
            "PINYARD_DATABASE_URL": settings.database_url,
            "PINYARD_BATCH_BROKER_URL": broker_url,
            "PINYARD_BATCH_QUEUE": queue,
            "PINYARD_DEPRECATIONS_FILE": str(settings.deprecations_file),
            "PINYARD_RECORD_FLUSH_INTERVAL_S": "0.05",
            "PINYARD_BATCH_CONCURRENCY": "4",
        }
        self.queue = queue
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "dramatiq", "app.workers.batch_worker",
                   "--processes", "1", "--threads", "4", "--queues", self.queue]  # fmt: skip
        proc = subprocess.Popen(command, cwd=ROOT, env=self.env)
        self.procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
        if proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def stop_all(self) -> None:
        for proc in self.procs:
            self.stop(proc)


def _clients(app: Any) -> tuple[openai.AsyncOpenAI, httpx.AsyncClient]:
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app))
    oai = openai.AsyncOpenAI(
        base_url=f"{BASE}/v1", api_key="local", http_client=http, max_retries=0
    )
    admin = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=BASE,
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    return oai, admin


def _finished(app: Any) -> dict[str, str | None]:
    """custom_id -> request id of every line written as completed."""
    with Session(app.state.ctx.engine) as session:
        query = select(BatchRequestRow).where(BatchRequestRow.status == "completed")
        return {row.custom_id: row.request_id for row in session.execute(query).scalars()}


def _records(app: Any) -> list[RequestRecordRow]:
    with Session(app.state.ctx.engine) as session:
        query = select(RequestRecordRow).where(RequestRecordRow.route == "batch")
        return list(session.execute(query).scalars())


async def test_chunks_run_on_dramatiq_workers_with_lineage_and_records(
    settings: Any, broker_url: str, queue: str
) -> None:
    tuned = make_settings(
        settings,
        batch_executor="dramatiq",
        batch_broker_url=broker_url,
        batch_queue=queue,
        batch_chunk_size=7,
        batch_poll_interval_s=0.2,
    )
    app = create_app(tuned)
    workers = Workers(settings, broker_url, queue)
    try:
        async with app.router.lifespan_context(app):
            oai, admin = _clients(app)
            pushed = await push(admin, fake_spec(model="fake/slow-20"))
            await set_alias(admin, "dev", "support-chat", "support-chat@1")
            uploaded = await upload(oai, chat_file(30))
            batch = await oai.batches.create(
                input_file_id=uploaded.id, endpoint=CHAT_URL, completion_window="24h"
            )
            worker = workers.start()
            done = await wait_until(oai, batch.id, ("completed", "cancelled", "expired"), 90)
            assert done.status == "completed" and done.request_counts.completed == 30
            lines = lines_of((await oai.files.content(done.output_file_id)).content)
            assert sorted(line["custom_id"] for line in lines) == sorted(
                f"row-{i}" for i in range(30)
            )
            headers = {line["response"]["headers"]["x-pinyard-bundle-digest"] for line in lines}
            assert headers == {pushed["digest"]}
            assert {line["response"]["headers"]["x-pinyard-route"] for line in lines} == {"batch"}
            workers.stop(worker)  # a clean stop writes the worker's buffered records
            records = _records(app)
            assert sorted(r.id for r in records) == sorted(
                line["response"]["request_id"] for line in lines
            )
            await oai.close()
            await admin.aclose()
    finally:
        workers.stop_all()


async def test_a_worker_killed_mid_chunk_is_replaced_and_no_finished_line_runs_again(
    settings: Any, broker_url: str, queue: str
) -> None:
    if not broker_url.startswith("amqp"):
        pytest.skip("RabbitMQ redelivers an unacknowledged chunk as soon as its worker is gone")
    tuned = make_settings(
        settings,
        batch_executor="dramatiq",
        batch_broker_url=broker_url,
        batch_queue=queue,
        batch_chunk_size=40,
        batch_poll_interval_s=0.2,
    )
    app = create_app(tuned)
    workers = Workers(settings, broker_url, queue)
    try:
        async with app.router.lifespan_context(app):
            oai, admin = _clients(app)
            await push(admin, fake_spec(model="fake/slow-100"))
            await set_alias(admin, "dev", "support-chat", "support-chat@1")
            uploaded = await upload(oai, chat_file(40))
            batch = await oai.batches.create(
                input_file_id=uploaded.id, endpoint=CHAT_URL, completion_window="24h"
            )
            first = workers.start()
            for _ in range(900):
                counts = (await oai.batches.retrieve(batch.id)).request_counts
                if counts.completed >= 8:
                    break
                await asyncio.sleep(0.05)
            workers.stop(first, signal.SIGKILL)  # no clean stop: the chunk is not acked
            before = _finished(app)
            assert 8 <= len(before) < 40
            workers.start()
            done = await wait_until(oai, batch.id, ("completed", "cancelled", "expired"), 120)
            assert done.status == "completed" and done.request_counts.completed == 40
            lines = lines_of((await oai.files.content(done.output_file_id)).content)
            assert len(lines) == 40 and len({line["custom_id"] for line in lines}) == 40
            after = _finished(app)
            assert all(after[custom_id] == request_id for custom_id, request_id in before.items())
            await oai.close()
            await admin.aclose()
    finally:
        workers.stop_all()
