"""The database goes away under a real gateway, and comes back.

The gateway reaches PostgreSQL through a TCP proxy in the test process;
closing the proxy resets every connection and refuses new ones, which is what
a replica sees when its database dies. While it is away: zero failed
data-plane requests (the last-known-good snapshot serves), readiness says
degraded and why, request records wait in the bounded buffer, and admin
changes are refused with a clear 503 without writing anything. When it comes
back every buffered record is written.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy.engine import make_url

from tests.production.conftest import Schema, needs_postgres
from tests.production.procs import Gateway, base_env, push_and_alias, wait_until
from tests.production.proxy import TcpProxy

pytestmark = needs_postgres

SPEC = {"name": "support-chat", "model": "fake/echo", "prompt": {"system": "Be brief."}}


def _proxy_for(schema: Schema) -> TcpProxy:
    url = make_url(schema.server_url)
    return TcpProxy(url.host or "127.0.0.1", url.port or 5432)


def _chat(gateway: Gateway, *, stream: bool = False) -> httpx.Response:
    body: dict[str, Any] = {
        "model": "support-chat",
        "messages": [{"role": "user", "content": "hello"}],
        "stream": stream,
    }
    if stream:
        with gateway.http.stream("POST", "/v1/chat/completions", json=body) as response:
            text = "".join(response.iter_text())
            assert text.rstrip().endswith("data: [DONE]"), text
            return response
    return gateway.http.post("/v1/chat/completions", json=body)


def _metric(gateway: Gateway, line_start: str) -> float:
    for line in gateway.http.get("/metrics").text.splitlines():
        if line.startswith(line_start):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_database_killed_mid_traffic(
    pg_schema: Schema, gateway_factory: Callable[..., Gateway]
) -> None:
    with _proxy_for(pg_schema) as proxy:
        env = base_env(
            PINYARD_DATABASE_URL=pg_schema.via("127.0.0.1", proxy.port),
            PINYARD_SNAPSHOT_POLL_INTERVAL_S="0.2",
            PINYARD_RECORD_FLUSH_INTERVAL_S="0.05",
            PINYARD_RECORD_RETRY_MAX_S="0.5",
        )
        gateway = gateway_factory("gw", env)
        push_and_alias(gateway, SPEC)
        served: list[str] = []
        failures: list[str] = []

        def traffic(count: int) -> None:
            for i in range(count):
                response = _chat(gateway, stream=i % 5 == 0)
                if response.status_code == 200:
                    served.append(response.headers["x-pinyard-request-id"])
                else:
                    failures.append(f"{response.status_code} {response.text}")

        traffic(20)
        proxy.close()  # the database dies mid-traffic
        traffic(20)
        # The registry watcher notices within a poll interval (the record writer may be first).
        wait_until(lambda: gateway.readiness()[1]["database"] != "ok", 10, "the watcher to notice")
        status, ready = gateway.readiness()
        assert status == 200 and ready["status"] == "degraded"  # a balancer keeps it in rotation
        assert "last-known-good" in ready["reason"] and "database" in ready["reason"]
        traffic(40)

        before = gateway.admin.get("/admin/environments/dev/aliases/support-chat")
        assert before.status_code == 503  # reads of the registry database fail too
        refused = gateway.admin.put(
            "/admin/environments/dev/aliases/support-chat",
            json={"bundle": "support-chat@1", "reason": "during the outage"},
        )
        assert refused.status_code == 503, refused.text
        error = refused.json()["error"]
        assert error["code"] == "service_unavailable"
        assert "database is unavailable" in error["message"]
        pushed = gateway.admin.post("/admin/bundles", json={**SPEC, "prompt": {"system": "v2"}})
        assert pushed.status_code == 503
        assert gateway.readiness()[1]["records"]["buffered"] > 0
        assert _metric(gateway, "pinyard_request_records_buffered") > 0

        proxy.open()  # the database is back
        gateway.wait_ready(timeout_s=20)
        traffic(20)

        assert failures == []
        assert len(served) == 100

        def recorded() -> int:
            query = "SELECT count(*) FROM request_records WHERE id = ANY(:ids)"
            return int(pg_schema.scalar(query, ids=served))

        wait_until(lambda: recorded() == len(served), 20, "every record written after recovery")
        # Nothing was half-written while the database was away.
        assert pg_schema.scalar("SELECT count(*) FROM bundles") == 1
        assert pg_schema.scalar("SELECT count(*) FROM alias_history") == 1
        verified = gateway.admin.get("/admin/audit/verify").json()
        assert verified["ok"] is True, verified
        assert _metric(gateway, 'pinyard_request_records_dropped_total{reason="buffer_full"}') == 0
        assert gateway.terminate() == 0  # while the database is there to flush to
    messages = [line["message"] for line in gateway.log_lines()]
    assert any("serving the last-known-good snapshot" in m for m in messages), messages
    assert any("database reachable again" in m for m in messages)
    assert any("request records are being written again" in m for m in messages)


def test_replica_started_while_the_database_is_down_fails_readiness_then_recovers(
    fresh_schema: Schema, gateway_factory: Callable[..., Gateway]
) -> None:
    with _proxy_for(fresh_schema) as proxy:
        proxy.close()
        env = base_env(
            PINYARD_DATABASE_URL=fresh_schema.via("127.0.0.1", proxy.port),
            PINYARD_AUTO_MIGRATE="true",  # and the schema is empty: migrations fail too
            PINYARD_SNAPSHOT_POLL_INTERVAL_S="0.2",
        )
        gateway = gateway_factory("gw", env, wait="listening")
        status, ready = gateway.readiness()
        assert status == 503 and ready["status"] == "not_ready", ready
        assert "database" in ready["reason"]
        time.sleep(0.5)  # a few retries go by; it neither crashes nor spams
        starts = [m for m in (line["message"] for line in gateway.log_lines()) if "at start" in m]
        assert len(starts) == 1 and "not ready until it answers" in starts[0]

        proxy.open()
        gateway.wait_ready(timeout_s=30)  # migrated, loaded, ready
        push_and_alias(gateway, SPEC)
        assert _chat(gateway).status_code == 200
        assert gateway.terminate() == 0
