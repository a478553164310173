"""Recorded runs (admin API) and the eval gate on promotion into protected environments."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlmodel import select

from app.registry.db import write_session
from app.registry.eval_repo import EvalRunRow
from app.settings import Settings
from tests.conftest import fake_spec, make_settings, push, set_alias

SUITE_DIGEST = "sha256:" + "a" * 64


def run_body(digest: str, verdict: str = "pass", **extra: Any) -> dict[str, Any]:
    failures = [] if verdict == "pass" else ["pass_rate 0.50 < 1.00 (1 of 2 cases failed)"]
    return {
        "suite": {"name": "smoke", "digest": SUITE_DIGEST},
        "bundle": {"name": "support-chat", "digest": digest},
        "verdict": verdict,
        "failures": failures,
        "totals": {"cases": 2, "passed": 2 if verdict == "pass" else 1, "pass_rate": 1.0},
        "cases": [{"id": "order", "status": "pass"}],
        "commit": "0123abc",
        **extra,
    }


async def require_smoke(admin: httpx.AsyncClient, env: str = "staging", **entry: Any) -> None:
    policy = {"required_suites": ["smoke"], **entry}
    response = await admin.put(
        f"/admin/environments/{env}/policy",
        json={"reason": "gate on smoke", "aliases": {"support-chat": policy}},
    )
    assert response.status_code == 200, response.text


async def promote(admin: httpx.AsyncClient, env: str = "staging", **extra: Any) -> httpx.Response:
    return await admin.put(
        f"/admin/environments/{env}/aliases/support-chat",
        json={"bundle": "support-chat@1", "reason": "promote", **extra},
    )


async def test_recording_is_audited_and_readable(admin: httpx.AsyncClient) -> None:
    bundle = await push(admin, fake_spec())
    created = await admin.post("/admin/evals/runs", json=run_body(bundle["digest"]))
    assert created.status_code == 201, created.text
    run = created.json()
    assert run["id"].startswith("evr_") and run["bundle"]["version"] == 1
    assert run["passed"] is True and run["actor"] == "admin:tester" and run["commit"] == "0123abc"
    events = (await admin.get("/admin/audit", params={"action": "eval.record"})).json()["data"]
    assert [e["target"] for e in events] == ["eval/smoke/support-chat@1"]
    assert events[0]["after"]["id"] == run["id"] and events[0]["after"]["verdict"] == "pass"
    shown = (await admin.get(f"/admin/evals/runs/{run['id']}")).json()
    assert shown["cases"] == [{"id": "order", "status": "pass"}]
    for bundle_filter in ("support-chat@1", bundle["digest"], "support-chat"):
        listed = await admin.get("/admin/evals/runs", params={"bundle": bundle_filter})
        assert [r["id"] for r in listed.json()["data"]] == [run["id"]]
    assert (await admin.get("/admin/evals/runs", params={"suite": "other"})).json()["data"] == []
    assert (await admin.get("/admin/evals/runs/evr_nope")).status_code == 404
    assert (await admin.get("/admin/audit/verify")).json()["ok"] is True


async def test_recording_needs_a_registered_digest(admin: httpx.AsyncClient) -> None:
    response = await admin.post("/admin/evals/runs", json=run_body("sha256:" + "b" * 64))
    assert response.status_code == 404
    assert "push it first" in response.json()["error"]["message"]
    bundle = await push(admin, fake_spec())
    wrong = run_body(bundle["digest"])
    wrong["bundle"]["name"] = "other"
    assert (await admin.post("/admin/evals/runs", json=wrong)).status_code == 400
    bad = run_body(bundle["digest"], verdict="maybe")
    assert (await admin.post("/admin/evals/runs", json=bad)).status_code == 400


async def test_gate_refuses_names_the_suite_then_accepts_a_recorded_pass(
    admin: httpx.AsyncClient,
) -> None:
    bundle = await push(admin, fake_spec())
    await require_smoke(admin)
    refused = await promote(admin)
    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["code"] == "promotion_blocked"
    assert "[evals] suite 'smoke' has no recorded run for support-chat@1" in error["message"]
    await admin.post("/admin/evals/runs", json=run_body(bundle["digest"], verdict="fail"))
    failed = (await promote(admin)).json()["error"]["message"]
    assert "suite 'smoke' failed for support-chat@1" in failed
    assert "pass_rate 0.50 < 1.00" in failed  # the threshold that failed
    await admin.post("/admin/evals/runs", json=run_body(bundle["digest"]))
    accepted = await promote(admin)
    assert accepted.status_code == 200, accepted.text
    assert "overridden" not in accepted.json()


async def test_a_pass_for_another_digest_does_not_count(admin: httpx.AsyncClient) -> None:
    other = await push(admin, fake_spec(params={"temperature": 0.9}))
    await push(admin, fake_spec())  # support-chat@2
    await admin.post("/admin/evals/runs", json=run_body(other["digest"]))
    await require_smoke(admin)
    response = await admin.put(
        "/admin/environments/staging/aliases/support-chat",
        json={"bundle": "support-chat@2", "reason": "promote"},
    )
    assert response.status_code == 409 and "support-chat@2" in response.text


async def test_a_stale_pass_is_refused(admin: httpx.AsyncClient, app: Any) -> None:
    bundle = await push(admin, fake_spec())
    run = (await admin.post("/admin/evals/runs", json=run_body(bundle["digest"]))).json()
    await require_smoke(admin, max_age_days=7)
    with write_session(app.state.ctx.engine) as session:
        row = session.exec(select(EvalRunRow).where(EvalRunRow.id == run["id"])).one()
        row.created_at = row.created_at - timedelta(days=8)
        session.add(row)
    refused = await promote(admin)
    assert refused.status_code == 409
    assert "last passed for support-chat@1" in refused.text and "max_age_days 7" in refused.text


async def test_override_is_audited_with_the_eval_reasons(admin: httpx.AsyncClient) -> None:
    await push(admin, fake_spec())
    await require_smoke(admin, env="prod")
    forced = await promote(admin, env="prod", override=True, reason="hotfix; evals after")
    assert forced.status_code == 200
    assert any("[evals] suite 'smoke'" in r for r in forced.json()["overridden"])
    events = (await admin.get("/admin/audit", params={"target": "alias/prod/"})).json()["data"]
    assert [e["action"] for e in events] == ["alias.set.override"]
    assert events[0]["reason"] == "hotfix; evals after"
    assert any("[evals]" in r for r in events[0]["after"]["overridden"])


async def test_unprotected_environments_are_not_gated(admin: httpx.AsyncClient) -> None:
    await push(admin, fake_spec())
    await require_smoke(admin, env="dev")
    await set_alias(admin, "dev", "support-chat", "support-chat@1")


# -- run on promotion -----------------------------------------------------------


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """The gateway finds suites in tmp_path/evals for run_on_promotion."""
    folder = tmp_path / "evals"
    folder.mkdir()
    suite = {
        "name": "smoke",
        "variables": {"customer_name": "Ada"},
        "cases": [
            {"id": "order", "messages": [{"role": "user", "content": "Where is order 1234?"}]}
        ],
        "scorers": [{"type": "contains", "value": "1234"}],
    }
    (folder / "smoke.yaml").write_text(yaml.safe_dump(suite), encoding="utf-8")
    return make_settings(settings, evals_dir=folder)


async def test_run_on_promotion_runs_records_and_promotes(admin: httpx.AsyncClient) -> None:
    await push(admin, fake_spec())
    await require_smoke(admin, run_on_promotion=True)
    accepted = await promote(admin)
    assert accepted.status_code == 200, accepted.text
    runs = (await admin.get("/admin/evals/runs")).json()["data"]
    assert [(r["suite"]["name"], r["verdict"], r["source"]) for r in runs] == [
        ("smoke", "pass", "promotion")
    ]
    again = await admin.put(
        "/admin/environments/staging/aliases/support-chat",
        json={"bundle": "support-chat@1", "reason": "again"},
    )
    assert again.status_code == 200
    assert len((await admin.get("/admin/evals/runs")).json()["data"]) == 1  # a fresh pass exists


async def test_run_on_promotion_refuses_a_failing_bundle(admin: httpx.AsyncClient) -> None:
    await push(admin, fake_spec(params={"max_tokens": 2}))  # "[fake/echo] Where": no 1234
    await require_smoke(admin, run_on_promotion=True)
    refused = await promote(admin)
    assert refused.status_code == 409
    message = refused.json()["error"]["message"]
    assert (
        "suite 'smoke' failed for support-chat@1" in message and "pass_rate 0.00 < 1.00" in message
    )
    runs = (await admin.get("/admin/evals/runs")).json()["data"]
    assert [r["verdict"] for r in runs] == ["fail"]


async def test_run_on_promotion_without_the_suite_file(admin: httpx.AsyncClient) -> None:
    await push(admin, fake_spec())
    response = await admin.put(
        "/admin/environments/staging/policy",
        json={
            "reason": "r",
            "aliases": {"support-chat": {"required_suites": ["nope"], "run_on_promotion": True}},
        },
    )
    assert response.status_code == 200
    refused = await promote(admin)
    assert refused.status_code == 409
    assert "cannot run suite 'nope' on promotion" in refused.text and "nope.yaml" in refused.text
