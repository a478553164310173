"""Per-key rate limits: sliding-window math, in-process on SQLite, shared via Redis/PostgreSQL."""

from __future__ import annotations

import os
import socket
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine

from app.governance.ratelimit import RateLimiter, estimate, retry_after
from app.governance.ratelimit_stores import PostgresStore, RedisStore
from app.registry import db
from tests.conftest import BASE, PG_URL, fake_spec, postgres_schema_url, push, set_alias
from tests.governance.conftest import make_key

REDIS_URL = os.environ.get("PINYARD_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_sliding_window_estimate_and_retry_after() -> None:
    assert estimate(previous=10, current=0, elapsed=0) == 10
    assert estimate(previous=10, current=2, elapsed=30) == 7
    # Full this minute: wait for the next one (and its share of this one to fade).
    assert retry_after(previous=0, current=2, elapsed=15, rpm=2) == 46
    # Full only because of last minute: wait until enough of it has slid away.
    assert retry_after(previous=4, current=0, elapsed=0, rpm=2) == 31
    assert retry_after(previous=4, current=0, elapsed=59.5, rpm=2) == 1


async def test_the_limiter_counts_per_key_and_forgets_old_minutes() -> None:
    clock = Clock(6000.0)
    limiter = RateLimiter(clock=clock)
    assert [limiter.hit("a", 2) for _ in range(2)] == [None, None]
    assert limiter.hit("a", 2) == 61.0
    assert limiter.hit("b", 2) is None  # another key has its own budget
    clock.now += 60  # the next minute still carries all of the last one
    assert limiter.hit("a", 2) is not None
    clock.now += 31
    assert limiter.hit("a", 2) is None
    clock.now += 3600
    await limiter.sync()
    assert limiter.hit("a", 1) is None


async def test_a_key_over_its_rpm_gets_429_with_retry_after(
    app: Any, admin: httpx.AsyncClient
) -> None:
    await push(admin, fake_spec())
    await set_alias(admin, "dev", "support-chat", "support-chat@1")
    key = (await make_key(admin, "dev", rpm=2))["key"]
    other = (await make_key(admin, "dev"))["key"]
    body = {
        "model": "support-chat",
        "messages": [{"role": "user", "content": "hi"}],
        "variables": {"customer_name": "Ann"},
    }
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        statuses = []
        for _ in range(3):
            answer = await http.post("/v1/chat/completions", json=body, headers={"x-api-key": key})
            statuses.append(answer.status_code)
        assert statuses == [200, 200, 429]
        assert answer.json()["error"]["code"] == "rate_limit_exceeded"
        assert 1 <= int(answer.headers["retry-after"]) <= 61
        unlimited = await http.post(
            "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {other}"}
        )
        assert unlimited.status_code == 200


async def _shared_by_two_replicas(first: RateLimiter, second: RateLimiter) -> None:
    key = f"k{uuid.uuid4().hex[:8]}"
    assert first.hit(key, 3) is None
    assert second.hit(key, 3) is None
    await first.sync()
    await second.sync()
    await first.sync()
    # Each replica now knows of both hits: one more is allowed, then it is full.
    assert first.hit(key, 3) is None
    await first.sync()
    await second.sync()
    assert second.hit(key, 3) is not None


def _redis_reachable() -> bool:
    url = httpx.URL(REDIS_URL.replace("redis://", "http://"))
    try:
        with socket.create_connection((url.host, url.port or 6379), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.mark.skipif(not _redis_reachable(), reason=f"no Redis at {REDIS_URL}")
async def test_counts_are_shared_through_redis() -> None:
    first, second = RateLimiter(RedisStore(REDIS_URL)), RateLimiter(RedisStore(REDIS_URL))
    try:
        await _shared_by_two_replicas(first, second)
    finally:
        await first.close()
        await second.close()


@pytest.mark.skipif(PG_URL is None, reason="PINYARD_TEST_DATABASE_URL is not set")
async def test_counts_are_shared_through_postgresql() -> None:
    assert PG_URL is not None
    base = PG_URL.replace("postgresql://", "postgresql+psycopg://", 1)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin_engine = create_engine(base)
    with admin_engine.begin() as connection:
        connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
    url = postgres_schema_url(base, schema)
    engine = create_engine(url)
    try:
        db.upgrade(url)
        await _shared_by_two_replicas(
            RateLimiter(PostgresStore(engine)), RateLimiter(PostgresStore(engine))
        )
    finally:
        engine.dispose()
        with admin_engine.begin() as connection:
            connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin_engine.dispose()
