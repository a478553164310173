"""Two real gateway replicas on one PostgreSQL agree within a second.

A change made through replica A (alias flip, bundle registration) is served
by replica B in under a second: by LISTEN/NOTIFY (the poll is set to 30 s so
it cannot be what is measured), and by the revision poll alone when
notifications are off (the safety net).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from tests.production.conftest import Schema, needs_postgres
from tests.production.procs import Gateway, base_env

pytestmark = needs_postgres

BUDGET_S = 1.0
CHAT = {"messages": [{"role": "user", "content": "which version?"}]}


def _spec(version_text: str) -> dict[str, Any]:
    return {"name": "support-chat", "model": "fake/echo", "prompt": {"system": version_text}}


def _served_label(gateway: Gateway, model: str = "support-chat") -> str | None:
    response = gateway.http.post("/v1/chat/completions", json={"model": model, **CHAT})
    return response.headers.get("x-pinyard-bundle") if response.status_code == 200 else None


def _time_until_served(gateway: Gateway, expected: str, model: str = "support-chat") -> float:
    """Seconds until ``gateway`` answers with bundle ``expected``; polls for up to 5 s."""
    started = time.perf_counter()
    while (elapsed := time.perf_counter() - started) < 5.0:
        if _served_label(gateway, model) == expected:
            return elapsed
        time.sleep(0.005)
    raise AssertionError(f"{gateway.name} still does not serve {expected} after 5 s")


def _flip(gateway: Gateway, ref: str) -> None:
    response = gateway.admin.put(
        "/admin/environments/dev/aliases/support-chat", json={"bundle": ref, "reason": "flip"}
    )
    assert response.status_code == 200, response.text


def _register(gateway: Gateway, spec: dict[str, Any]) -> str:
    response = gateway.admin.post("/admin/bundles", json=spec)
    assert response.status_code == 201, response.text
    return f"{response.json()['name']}@{response.json()['version']}"


def _measure_flips(a: Gateway, b: Gateway) -> list[float]:
    v1, v2 = _register(a, _spec("v1")), _register(a, _spec("v2"))
    _flip(a, v1)
    _time_until_served(b, v1)  # both replicas are live on the same registry
    latencies = []
    for target in [v2, v1] * 3:
        started = time.perf_counter()
        _flip(a, target)  # through A ...
        latencies.append(time.perf_counter() - started + _time_until_served(b, target))  # ... B
    return latencies


def test_flip_through_a_is_served_by_b_within_a_second_by_notify(
    pg_schema: Schema, gateway_factory: Callable[..., Gateway]
) -> None:
    env = base_env(PINYARD_DATABASE_URL=pg_schema.url, PINYARD_SNAPSHOT_POLL_INTERVAL_S="30")
    a, b = gateway_factory("a", env), gateway_factory("b", env)
    latencies = _measure_flips(a, b)
    median = statistics.median(latencies)
    print(f"flip->served by B: max {max(latencies):.3f} s, median {median:.3f} s")
    assert max(latencies) < BUDGET_S, latencies

    # A bundle registered through B is served (pinned) by A just as fast.
    started = time.perf_counter()
    ref = _register(b, _spec("v3"))
    assert time.perf_counter() - started + _time_until_served(a, ref, model=ref) < BUDGET_S
    assert any("listening for registry changes" in line["message"] for line in b.log_lines())


def test_with_notifications_off_the_revision_poll_keeps_replicas_within_a_second(
    pg_schema: Schema, gateway_factory: Callable[..., Gateway]
) -> None:
    env = base_env(
        PINYARD_DATABASE_URL=pg_schema.url,
        PINYARD_DB_NOTIFY="false",
        PINYARD_SNAPSHOT_POLL_INTERVAL_S="0.25",
    )
    a, b = gateway_factory("a", env), gateway_factory("b", env)
    latencies = _measure_flips(a, b)
    print(f"poll only: max {max(latencies):.3f} s, median {statistics.median(latencies):.3f} s")
    assert max(latencies) < BUDGET_S, latencies
    assert not any("listening for registry changes" in line["message"] for line in b.log_lines())
