"""The snapshot watcher: start-up with the database away, notifications, the safety net."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.exc import OperationalError

from app.main import create_app
from app.registry import db
from app.registry.snapshot import SnapshotStore
from app.settings import Settings
from tests.conftest import ADMIN_TOKEN, BASE, fake_spec
from tests.production.conftest import Schema


async def _eventually(check: Callable[[], bool], timeout_s: float = 10.0) -> float:
    started = time.perf_counter()
    while not check():
        assert time.perf_counter() - started < timeout_s, "condition never held"
        await asyncio.sleep(0.005)
    return time.perf_counter() - started


@contextlib.asynccontextmanager
async def _watching(store: SnapshotStore, interval_s: float) -> AsyncIterator[None]:
    task = asyncio.create_task(store.watch(interval_s))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_load_retries_migrations_and_the_first_refresh_until_the_database_answers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite:///{tmp_path}/late.db"
    store = SnapshotStore(db.make_engine(Settings(database_url=url)))
    attempts = 0

    def migrate() -> None:
        nonlocal attempts
        attempts += 1
        if attempts < 3:
            raise OperationalError("connect", {}, ConnectionRefusedError("refused"))
        db.upgrade(url)

    assert await store.load(migrate) is False
    assert not store.current.loaded
    assert store.last_error == "database unavailable: OperationalError"
    async with _watching(store, 0.02):
        await _eventually(lambda: store.current.loaded)
    assert attempts == 3 and store.last_error is None
    errors = [r for r in caplog.records if r.name == "pinyard.snapshot" and r.levelname == "ERROR"]
    assert len(errors) == 1  # said once, not once per retry
    assert "not ready until it answers" in errors[0].getMessage()
    store.engine.dispose()


async def test_a_notice_wakes_the_watcher_long_before_the_poll(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path}/notice.db"
    settings = Settings(database_url=url, admin_token=ADMIN_TOKEN, auto_migrate=True)
    writer_app, reader = create_app(settings), SnapshotStore(db.make_engine(settings))
    async with writer_app.router.lifespan_context(writer_app):
        assert await reader.load()
        async with (
            _watching(reader, interval_s=60.0),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=writer_app),
                base_url=BASE,
                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            ) as admin,
        ):
            assert (await admin.post("/admin/bundles", json=fake_spec())).status_code == 201
            revision = writer_app.state.ctx.snapshots.current.revision
            reader.notice(revision - 1)  # already served: ignored
            await asyncio.sleep(0.1)
            assert reader.current.revision < revision
            reader.notice(revision)
            await _eventually(lambda: reader.current.revision == revision, timeout_s=1.0)
    reader.engine.dispose()


def test_after_write_never_reports_a_committed_change_as_failed(tmp_path: Path) -> None:
    store = SnapshotStore(db.make_engine(Settings(database_url=f"sqlite:///{tmp_path}/x.db")))

    def refresh(**_: Any) -> None:
        raise OperationalError("SELECT revision", {}, ConnectionResetError())

    store.refresh = refresh  # type: ignore[method-assign]
    store.after_write()  # logs; the watcher's next poll catches up


async def test_two_in_process_replicas_on_postgresql_agree_by_notify(pg_schema: Schema) -> None:
    """LISTEN/NOTIFY between two apps on one schema; the poll is 60 s, so it is not the poll."""
    settings = Settings(
        database_url=pg_schema.url, admin_token=ADMIN_TOKEN, snapshot_poll_interval_s=60.0
    )
    a, b = create_app(settings), create_app(settings)
    async with a.router.lifespan_context(a), b.router.lifespan_context(b):
        replica_b = b.state.ctx.snapshots
        await asyncio.sleep(0.3)  # B's listener connects (a late one checks on connecting)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=a),
            base_url=BASE,
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        ) as admin:
            for _ in range(3):
                started = time.perf_counter()
                pushed = await admin.post(
                    "/admin/bundles", json=fake_spec(prompt={"system": f"{started}"})
                )
                assert pushed.status_code == 201
                revision = a.state.ctx.snapshots.current.revision
                await _eventually(lambda r=revision: replica_b.current.revision == r, timeout_s=1.0)
                assert time.perf_counter() - started < 1.0
