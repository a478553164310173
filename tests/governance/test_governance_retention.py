"""Retention: old request records are pruned by the job; audit events never are."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from app.governance.retention import RetentionJob
from app.main import create_app
from app.registry.db import read_session, write_session
from app.registry.record_repo import RequestRecordRepository
from app.registry.tables import RequestRecordRow
from app.settings import Settings
from tests.conftest import fake_spec, make_settings, push


def _record(request_id: str, age: timedelta) -> RequestRecordRow:
    return RequestRecordRow(
        id=request_id,
        created_at=datetime.now(UTC) - age,
        environment="dev",
        endpoint="chat.completions",
        status=200,
    )


async def test_old_records_go_and_the_audit_trail_stays(app: Any, admin: httpx.AsyncClient) -> None:
    await push(admin, fake_spec())  # one audit event that is far older than nothing
    engine = app.state.ctx.engine
    with write_session(engine, registry_lock=False) as session:
        session.add_all(
            [
                _record("req_old1", timedelta(days=40)),
                _record("req_old2", timedelta(days=31)),
                _record("req_new", timedelta(days=1)),
            ]
        )
    events_before = (await admin.get("/admin/audit/verify")).json()["events"]
    job = RetentionJob(engine, days=30)
    assert job.prune_once() == 2
    assert job.prune_once() == 0
    assert (await admin.get("/admin/requests/req_old1")).status_code == 404
    assert (await admin.get("/admin/requests/req_new")).status_code == 200
    verify = (await admin.get("/admin/audit/verify")).json()
    assert verify["ok"] is True and verify["events"] == events_before + 1
    prune = (await admin.get("/admin/audit", params={"action": "records.prune"})).json()["data"]
    assert prune[0]["actor"] == "system:retention" and prune[0]["after"]["deleted"] == 2
    assert RetentionJob(engine, days=0).prune_once() == 0  # 0 keeps everything


async def test_the_lifespan_runs_the_job_periodically(settings: Settings) -> None:
    application = create_app(
        make_settings(settings, record_retention_days=1.0, retention_interval_s=0.05)
    )
    engine = application.state.ctx.engine
    async with application.router.lifespan_context(application):
        with write_session(engine, registry_lock=False) as session:
            session.add(_record("req_ancient", timedelta(days=3)))
        for _ in range(200):
            with read_session(engine) as session:
                if RequestRecordRepository(session).get("req_ancient") is None:
                    break
            await asyncio.sleep(0.025)
        else:
            raise AssertionError("the retention job never pruned the old record")
