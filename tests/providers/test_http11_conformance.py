"""The direct client's HTTP/1.1 (RFC 9112) against scripted loopback servers, case by case.

Each test scripts the upstream's bytes (``raw_upstream``) and checks what the
client makes of them: framing (Content-Length, chunked with extensions and
trailers, close-delimited), reuse (``Connection: close``, Keep-Alive, idle
connections the server closed), interim answers, codings, slow bodies and
malformed answers. Every wait is bounded: a failure here is an assertion,
never a hang.
"""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator

import pytest

from app.errors import GatewayTimeoutError, ProviderError
from app.providers.client import ProviderClient
from app.providers.http11 import HTTP11Connection
from app.providers.interface import Attempt, ProviderCall
from app.providers.openai_direct import OpenAIDirectProvider
from app.providers.upstream_pool import UpstreamPool
from tests.providers.raw_upstream import (
    Connection,
    answer,
    answering,
    completion,
    raw_upstream,
    sse_events,
)

BODY = b'{"model": "m", "messages": []}'
JSON = b"content-type: application/json"
SSE = b"content-type: text/event-stream"
BOUND_S = 10.0  # no test may take this long: a hang fails instead of blocking the suite


@pytest.fixture(autouse=True)
async def bounded() -> AsyncIterator[None]:
    async with asyncio.timeout(BOUND_S):
        yield


def call(timeout_s: float = 5.0) -> ProviderCall:
    return ProviderCall(
        model="openai/m", messages=[{"role": "user", "content": "hi"}], timeout_s=timeout_s
    )


@pytest.fixture
def direct(monkeypatch: pytest.MonkeyPatch) -> OpenAIDirectProvider:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-raw")
    return OpenAIDirectProvider()


def point_at(monkeypatch: pytest.MonkeyPatch, base: str) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", base)


# -- framing ----------------------------------------------------------------------------


@pytest.mark.parametrize("version", [b"HTTP/1.1", b"HTTP/1.0"])
async def test_a_close_delimited_json_body_ends_at_eof(version: bytes) -> None:
    async def script(connection: Connection) -> None:
        await connection.request()
        body = completion("until close")
        await connection.send(version + b" 200 OK\r\n" + JSON + b"\r\n\r\n", body[:20], body[20:])
        await connection.close()

    async with raw_upstream(script) as upstream:
        pool = UpstreamPool(upstream.base)
        try:
            for _ in range(2):
                reply = await pool.post("/chat/completions", BODY, [], 5.0)
                assert reply.status == 200 and reply.content == completion("until close")
            assert upstream.connections == 2  # a close-delimited body ends its connection
        finally:
            await pool.aclose()


@pytest.mark.parametrize("done", [True, False])
async def test_a_close_delimited_sse_stream_ends_cleanly(
    monkeypatch: pytest.MonkeyPatch, direct: OpenAIDirectProvider, done: bool
) -> None:
    async def script(connection: Connection) -> None:
        await connection.request()
        head = b"HTTP/1.1 200 OK\r\n" + SSE + b"\r\ncache-control: no-cache\r\n\r\n"
        await connection.send(head, *sse_events(["Hel", "lo", "!"], done=done), pause_s=0.01)
        await connection.close()

    async with raw_upstream(script) as upstream:
        point_at(monkeypatch, upstream.base)
        try:
            chunks = [c async for c in direct.stream(call())]
        finally:
            await direct.aclose()
    assert "".join(c["choices"][0]["delta"]["content"] for c in chunks) == "Hello!"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


async def test_chunked_with_extensions_and_trailers_is_read_and_the_connection_reused() -> None:
    body = completion("in chunks")
    head = (
        b"HTTP/1.1 200 OK\r\n" + JSON + b"\r\ntransfer-encoding: chunked\r\ntrailer: x-sum\r\n\r\n"
    )
    chunked = (
        b'%x;name=value;quoted="a b"\r\n%s\r\n' % (10, body[:10])
        + b"%X\r\n%s\r\n" % (len(body) - 10, body[10:])
        + b"0;last\r\nx-sum: 1234\r\nx-more: yes\r\n\r\n"
    )

    async with raw_upstream(answering(head + chunked)) as upstream:
        pool = UpstreamPool(upstream.base)
        try:
            for _ in range(3):
                reply = await pool.post("/chat/completions", BODY, [], 5.0)
                assert reply.content == body
                assert "x-sum" not in reply.headers  # trailers are read, not merged
            assert upstream.connections == 1
        finally:
            await pool.aclose()


@pytest.mark.parametrize(
    "cut",
    [
        answer(completion())[:-5],  # Content-Length promises more than arrives
        b'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n20\r\n{"id"',  # mid-chunk
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\n{}\r\n",  # no last chunk
        b"HTTP/1.1 200 OK\r\ncontent-le",  # mid-head
    ],
)
async def test_a_body_cut_short_is_an_upstream_error(
    monkeypatch: pytest.MonkeyPatch, direct: OpenAIDirectProvider, cut: bytes
) -> None:
    async with raw_upstream(answering(cut, close=True)) as upstream:
        point_at(monkeypatch, upstream.base)
        try:
            with pytest.raises(ProviderError) as info:
                await direct.complete(call())
        finally:
            await direct.aclose()
    assert info.value.status_code == 502 and info.value.code == "upstream_error"
    assert "closed the connection mid-response" in info.value.message
    assert info.value.retryable


async def test_interim_1xx_answers_are_skipped() -> None:
    interim = (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 103 Early Hints\r\nlink: </style.css>; rel=preload\r\n\r\n"
    )

    async def script(connection: Connection) -> None:
        while await connection.request() is not None:
            await connection.send(interim, answer(completion("after hints"), JSON))

    async with raw_upstream(script) as upstream:
        pool = UpstreamPool(upstream.base)
        try:
            for _ in range(2):
                reply = await pool.post("/chat/completions", BODY, [], 5.0)
                assert reply.status == 200 and reply.content == completion("after hints")
                assert "link" not in reply.headers
            assert upstream.connections == 1
        finally:
            await pool.aclose()


# -- reuse ------------------------------------------------------------------------------


@pytest.mark.parametrize("server_closes", [True, False])
async def test_connection_close_mid_pool_is_not_reused(server_closes: bool) -> None:
    async def script(connection: Connection) -> None:
        await connection.request()
        await connection.send(answer(completion("one"), JSON))  # kept alive
        await connection.request()
        await connection.send(answer(completion("two"), JSON, b"connection: close"))
        if server_closes:
            await connection.close()
        else:
            await connection.request()  # stays open: the client must still not reuse it
            await connection.send(answer(b"reused a closed connection", status=b"500 Wrong"))

    async with raw_upstream(script) as upstream:
        pool = UpstreamPool(upstream.base)
        try:
            replies = [await pool.post("/chat/completions", BODY, [], 5.0) for _ in range(3)]
        finally:
            await pool.aclose()
    assert [r.content for r in replies] == [completion(w) for w in ("one", "two", "one")]
    assert [index for index, _ in upstream.requests] == [0, 0, 1]


async def test_a_keep_alive_timeout_shorter_than_the_pool_expiry_is_honoured() -> None:
    reply = answer(completion(), JSON, b"keep-alive: timeout=1, max=100")
    async with raw_upstream(answering(reply)) as upstream:
        pool = UpstreamPool(upstream.base, keepalive_expiry_s=30.0)
        try:
            await pool.post("/chat/completions", BODY, [], 5.0)
            await asyncio.sleep(0.01)
            await pool.post("/chat/completions", BODY, [], 5.0)
        finally:
            await pool.aclose()
    # timeout=1 leaves no second of safe idle time: the second call opens a new connection.
    assert upstream.connections == 2


async def test_an_idle_connection_found_closed_before_sending_is_retried_fresh(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    closed = asyncio.Event()

    async def script(connection: Connection) -> None:
        await connection.request()
        await connection.send(answer(completion(f"on {connection.index}"), JSON))
        await asyncio.sleep(0.02)  # then the server's idle timeout hangs up
        await connection.close()
        closed.set()

    async with raw_upstream(script) as upstream:
        pool = UpstreamPool(upstream.base)
        try:
            await pool.post("/chat/completions", BODY, [], 5.0)
            await closed.wait()
            await asyncio.sleep(0.02)  # the client has seen the FIN
            # The pool's own check came too early (a waiter handed the connection, or the
            # FIN arrived just after it): the connection finds out before it sends.
            monkeypatch.setattr(HTTP11Connection, "has_expired", lambda self: False)
            reply = await pool.post("/chat/completions", BODY, [], 5.0)
        finally:
            await pool.aclose()
    assert reply.content == completion("on 1")
    assert [index for index, _ in upstream.requests] == [0, 1]  # each request sent once


async def test_a_request_the_upstream_received_is_never_resent(
    monkeypatch: pytest.MonkeyPatch, direct: OpenAIDirectProvider
) -> None:
    async def script(connection: Connection) -> None:
        await connection.request()
        await connection.send(answer(completion(), JSON))
        await connection.request()  # received (and maybe acted on), then the server dies
        await connection.close()

    async with raw_upstream(script) as upstream:
        point_at(monkeypatch, upstream.base)
        try:
            await direct.complete(call())
            with pytest.raises(ProviderError) as info:
                await direct.complete(call())
        finally:
            await direct.aclose()
    assert info.value.code == "upstream_error"
    assert "without answering" in info.value.message
    assert [index for index, _ in upstream.requests] == [0, 0]  # not resent on a fresh one


async def test_bytes_after_a_whole_answer_keep_the_answer_and_drop_the_connection() -> None:
    reply = answer(completion("kept"), JSON) + b"GARBAGE\r\n\r\n"
    async with raw_upstream(answering(reply)) as upstream:
        pool = UpstreamPool(upstream.base)
        try:
            for _ in range(2):
                assert (await pool.post("/chat/completions", BODY, [], 5.0)).content == (
                    completion("kept")
                )
        finally:
            await pool.aclose()
    assert upstream.connections == 2


# -- codings ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "body"),
    [
        (b"content-encoding: gzip", gzip.compress(completion())),
        (b"content-encoding: br", b"\x1b\x00\x00"),
        (b"transfer-encoding: gzip, chunked", b"3\r\nabc\r\n0\r\n\r\n"),
    ],
)
async def test_a_coding_not_asked_for_is_refused_and_not_retried(
    monkeypatch: pytest.MonkeyPatch, header: bytes, body: bytes
) -> None:
    if header.startswith(b"transfer"):
        reply = b"HTTP/1.1 200 OK\r\n" + header + b"\r\n\r\n" + body
    else:
        reply = answer(body, JSON, header)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-raw")
    client = ProviderClient(max_attempts=3, backoff_base_s=0.0, backoff_max_s=0.0)
    async with raw_upstream(answering(reply)) as upstream:
        point_at(monkeypatch, upstream.base)
        try:
            with pytest.raises(ProviderError) as info:
                await client.complete(call(), [])
        finally:
            await client.aclose()
    assert info.value.status_code == 502 and info.value.code == "upstream_error"
    assert header.split(b":")[0].decode() in info.value.message.lower()
    assert not info.value.retryable and len(upstream.requests) == 1
    assert b"\r\naccept-encoding: identity\r\n" in upstream.requests[0][1]


# -- slow bodies and the deadline -------------------------------------------------------


async def test_a_trickling_body_is_read_whole_within_the_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    body = completion("slowly")
    pieces = [body[i : i + 8] for i in range(0, len(body), 8)]
    assert len(pieces) > 15

    async def script(connection: Connection) -> None:
        await connection.request()
        head = b"HTTP/1.1 200 OK\r\n" + JSON + b"\r\ncontent-length: %d\r\n\r\n" % len(body)
        await connection.send(head, *pieces, pause_s=0.01)

    monkeypatch.setenv("OPENAI_API_KEY", "sk-raw")
    client = ProviderClient(max_attempts=1)
    async with raw_upstream(script) as upstream:
        point_at(monkeypatch, upstream.base)
        try:
            data = await client.complete(call(timeout_s=5.0), [])
        finally:
            await client.aclose()
    assert data["choices"][0]["message"]["content"] == "slowly"


async def test_the_deadline_holds_against_a_body_that_never_ends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def script(connection: Connection) -> None:
        await connection.request()
        await connection.send(b"HTTP/1.1 200 OK\r\n" + JSON + b"\r\ncontent-length: 999999\r\n\r\n")
        while True:  # a byte well within every read timeout, forever
            await connection.send(b" ")
            await asyncio.sleep(0.02)

    monkeypatch.setenv("OPENAI_API_KEY", "sk-raw")
    client = ProviderClient(max_attempts=3, backoff_base_s=0.0, backoff_max_s=0.0)
    attempts: list[Attempt] = []
    loop = asyncio.get_running_loop()
    async with raw_upstream(script) as upstream:
        point_at(monkeypatch, upstream.base)
        started = loop.time()
        try:
            with pytest.raises(GatewayTimeoutError):
                await client.complete(call(timeout_s=0.3), attempts)
        finally:
            await client.aclose()
    assert loop.time() - started < BOUND_S / 2  # ended by the deadline, not by the bound
    assert len(attempts) == 1


async def test_a_stream_trickles_past_the_deadline_while_each_event_is_in_time(
    monkeypatch: pytest.MonkeyPatch, direct: OpenAIDirectProvider
) -> None:
    words = [f"w{i} " for i in range(8)]

    async def script(connection: Connection) -> None:
        await connection.request()
        head = b"HTTP/1.1 200 OK\r\n" + SSE + b"\r\ntransfer-encoding: chunked\r\n\r\n"
        events = [b"%x\r\n%s\r\n" % (len(e), e) for e in sse_events(words)]
        await connection.send(head, *events, b"0\r\n\r\n", pause_s=0.05)

    async with raw_upstream(script) as upstream:
        point_at(monkeypatch, upstream.base)
        try:
            # 0.4 s of events, each within 0.2 s of the last: the read timeout is per event.
            chunks = [c async for c in direct.stream(call(timeout_s=0.2))]
        finally:
            await direct.aclose()
    assert "".join(c["choices"][0]["delta"]["content"] for c in chunks) == "".join(words)


async def test_a_stalled_stream_times_out(
    monkeypatch: pytest.MonkeyPatch, direct: OpenAIDirectProvider
) -> None:
    async def script(connection: Connection) -> None:
        await connection.request()
        await connection.send(b"HTTP/1.1 200 OK\r\n" + SSE + b"\r\n\r\n", sse_events(["a"])[0])
        await asyncio.sleep(BOUND_S)

    async with raw_upstream(script) as upstream:
        point_at(monkeypatch, upstream.base)
        try:
            with pytest.raises(GatewayTimeoutError):
                _ = [c async for c in direct.stream(call(timeout_s=0.2))]
        finally:
            await direct.aclose()


# -- malformed answers ------------------------------------------------------------------


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(b"HTTP/1.1 2000 OK\r\ncontent-length: 0\r\n\r\n", id="status-code"),
        pytest.param(b"HTTP/9 200 OK\r\ncontent-length: 0\r\n\r\n", id="version"),
        pytest.param(b"SMTP ready\r\n\r\n", id="not-http"),
        pytest.param(b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", id="header-line"),
        pytest.param(b"HTTP/1.1 200 OK\r\nbad name: x\r\n\r\n", id="header-name"),
        pytest.param(
            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\nab", id="two-lengths"
        ),
        pytest.param(b"HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n", id="negative-length"),
        pytest.param(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n", id="chunk-size"
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nabcd\r\n",
            id="chunk-overrun",
        ),
        pytest.param(
            b"HTTP/1.1 101 Switching Protocols\r\nupgrade: h2c\r\nconnection: upgrade\r\n\r\n",
            id="upgrade",
        ),
        pytest.param(b"HTTP/1.1 200 OK\r\n" + b"x-filler: " + b"a" * 70_000, id="head-too-big"),
    ],
)
async def test_a_malformed_answer_is_a_502_upstream_error(
    monkeypatch: pytest.MonkeyPatch, direct: OpenAIDirectProvider, reply: bytes
) -> None:
    async def script(connection: Connection) -> None:
        await connection.request()
        await connection.send(reply)
        await asyncio.sleep(BOUND_S)  # and then silence: the client must not wait for more

    async with raw_upstream(script) as upstream:
        point_at(monkeypatch, upstream.base)
        try:
            with pytest.raises(ProviderError) as info:
                await direct.complete(call(timeout_s=BOUND_S))
        finally:
            await direct.aclose()
    assert info.value.status_code == 502 and info.value.code == "upstream_error"
    assert info.value.envelope()["error"]["type"] == "api_error"
