"""The direct client's connection pool against a loopback upstream: limits, waiting, expiry.

The benchmark's fake upstream (optionally slow) runs inside the test's event
loop; every test counts the connections the server saw.
"""

from __future__ import annotations

import asyncio

import httpcore
import orjson
import pytest

from app.providers.asyncio_backend import AsyncioBackend
from app.providers.upstream_pool import ConnectionPool, UpstreamPool, _ssl_context
from tests.providers.conftest import fake_upstream

BODY = orjson.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]})


def _pool(base: str, *, max_connections: int = 4, keepalive: float = 30.0) -> ConnectionPool:
    return ConnectionPool(
        httpcore.URL(base).origin,
        ssl_context=_ssl_context(),
        keepalive_expiry=keepalive,
        max_connections=max_connections,
        network_backend=AsyncioBackend(),
    )


async def _post(pool: ConnectionPool, base: str, *, pool_timeout: float = 5.0) -> int:
    request = httpcore.Request(
        b"POST",
        base + "/chat/completions",
        headers=[(b"host", b"upstream"), (b"content-length", str(len(BODY)).encode())],
        content=BODY,
        extensions={"timeout": {"pool": pool_timeout, "read": 5.0, "connect": 5.0}},
    )
    response = await pool.handle_async_request(request)
    try:
        assert orjson.loads(await response.aread())["object"] == "chat.completion"
    finally:
        await response.aclose()
    return response.status


async def test_callers_past_the_limit_wait_in_turn_and_connections_are_reused() -> None:
    server, base, seen = await fake_upstream(0.03)
    pool = _pool(base, max_connections=2)
    try:
        statuses = await asyncio.gather(*(_post(pool, base) for _ in range(8)))
        assert statuses == [200] * 8
        assert len(seen) == 2 and pool.connections == 2
        await _post(pool, base)
        assert len(seen) == 2  # kept alive
    finally:
        await pool.aclose()
        server.close()


async def test_a_caller_that_waits_too_long_gets_a_pool_timeout_and_leaks_nothing() -> None:
    server, base, seen = await fake_upstream(0.3)
    pool = _pool(base, max_connections=1)
    try:
        slow = asyncio.create_task(_post(pool, base))
        await asyncio.sleep(0.05)
        with pytest.raises(httpcore.PoolTimeout):
            await _post(pool, base, pool_timeout=0.05)
        assert await slow == 200
        assert await _post(pool, base) == 200  # the slot is free again
        assert len(seen) == 1 and pool.connections == 1
    finally:
        await pool.aclose()
        server.close()


async def test_a_cancelled_waiter_hands_its_turn_on() -> None:
    server, base, _ = await fake_upstream(0.1)
    pool = _pool(base, max_connections=1)
    try:
        busy = asyncio.create_task(_post(pool, base))
        await asyncio.sleep(0.02)
        given_up = asyncio.create_task(_post(pool, base))
        patient = asyncio.create_task(_post(pool, base))
        await asyncio.sleep(0.02)
        given_up.cancel()
        assert await busy == 200 and await patient == 200
        assert given_up.cancelled() and pool.connections == 1
    finally:
        await pool.aclose()
        server.close()


async def test_idle_connections_expire_and_server_closed_ones_are_replaced() -> None:
    server, base, seen = await fake_upstream(0.0)
    pool = _pool(base, keepalive=0.05)
    try:
        await _post(pool, base)
        await asyncio.sleep(0.1)
        await _post(pool, base)  # the first one expired: a new connection
        assert len(seen) == 2 and pool.connections == 1
        assert seen[-1].transport is not None
        seen[-1].transport.close()  # the server hangs up on the idle connection
        await asyncio.sleep(0.02)
        assert await _post(pool, base) == 200
        assert len(seen) == 3 and pool.connections == 1
    finally:
        await pool.aclose()
        server.close()


async def test_a_failed_exchange_frees_its_slot() -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.close()

    broken = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    base = f"http://127.0.0.1:{broken.sockets[0].getsockname()[1]}/v1"
    pool = _pool(base, max_connections=1)
    try:
        for _ in range(3):
            with pytest.raises(httpcore.RemoteProtocolError):
                await _post(pool, base, pool_timeout=0.2)
        assert pool.connections == 0
    finally:
        await pool.aclose()
        broken.close()


async def test_a_closed_pool_refuses_new_requests() -> None:
    server, base, _ = await fake_upstream(0.0)
    upstream = UpstreamPool(base)
    try:
        reply = await upstream.post("/chat/completions", BODY, [], 5.0)
        assert reply.status == 200
        await upstream.aclose()
        pool = _pool(base)
        await pool.aclose()
        with pytest.raises(httpcore.ConnectError):
            await _post(pool, base)
    finally:
        server.close()
