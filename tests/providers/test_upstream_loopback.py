"""The direct client's real network path (respx replaces it elsewhere): a loopback upstream.

The benchmark's fake upstream runs inside the test's event loop on 127.0.0.1;
the provider talks to it through the asyncio backend and the sharded pool.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from app.errors import ProviderError
from app.providers.interface import ProviderCall
from app.providers.openai_direct import OpenAIDirectProvider
from app.providers.upstream_sse import SSEDecoder
from bench.upstream import WORDS, _Connection
from tests.providers.conftest import fake_upstream
from tests.providers.raw_upstream import answering, raw_upstream


@pytest.fixture
async def loopback(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[list[_Connection]]:
    server, base, connections = await fake_upstream()
    monkeypatch.setenv("OPENAI_BASE_URL", base)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-loopback")
    try:
        yield connections
    finally:
        server.close()
        await server.wait_closed()


def call(**params: object) -> ProviderCall:
    messages = [{"role": "user", "content": "hi"}]
    return ProviderCall(model="openai/gpt-4o-2024-11-20", messages=messages, params=dict(params))


async def test_completions_and_streams_reuse_one_connection(loopback: list[_Connection]) -> None:
    provider = OpenAIDirectProvider()
    try:
        for _ in range(3):
            answer = await provider.complete(call())
            assert answer["choices"][0]["message"]["content"] == "".join(WORDS)
        for _ in range(2):
            chunks = [
                c async for c in provider.stream(call(stream_options={"include_usage": True}))
            ]
        deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
        text = "".join(d.get("content") or "" for d in deltas)
        assert text == "".join(WORDS)
        assert chunks[-1]["usage"]["total_tokens"] > 0
        assert len(loopback) == 1  # keep-alive: one connection served every call
        results = await asyncio.gather(*(provider.complete(call()) for _ in range(40)))
        assert all(r["object"] == "chat.completion" for r in results)
    finally:
        await provider.aclose()


async def test_stream_closed_early_releases_the_connection(loopback: list[_Connection]) -> None:
    provider = OpenAIDirectProvider()
    try:
        stream = provider.stream(call())
        first = await anext(stream)
        assert first["choices"][0]["delta"]["role"] == "assistant"
        await stream.aclose()  # type: ignore[attr-defined]  # an async generator
        answer = await provider.complete(call())
        assert answer["choices"]
    finally:
        await provider.aclose()


def test_sse_decoder_handles_split_events_crlf_comments_and_done() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b': keep-alive\r\n\r\ndata: {"a"') == []
    assert decoder.feed(b': 1}\r\n\r\nevent: x\ndata: {"b": 2}\n\ndata: {"c":') == [
        {"a": 1},
        {"b": 2},
    ]
    assert decoder.feed(b" 3}\n\ndata: [DONE]\n\ndata: {}\n\n") == [{"c": 3}]
    assert decoder.done and decoder.feed(b'data: {"d": 4}\n\n') == []
    unterminated = SSEDecoder()
    assert unterminated.feed(b'data: {"e": 5}') == []
    assert unterminated.close() == [{"e": 5}]


@pytest.mark.parametrize(
    ("answer", "close", "status", "retryable"),
    [
        (b'HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{"id":', True, None, True),
        (b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n[]", False, None, True),
        (
            b"HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\ncontent-length: 34"
            b'\r\n\r\n{"error": {"message": "overload"}}',
            True,
            503,
            True,
        ),
        (b"NOT HTTP AT ALL\r\n\r\n", True, None, True),
    ],
)
async def test_broken_upstreams_are_retryable_provider_errors(
    monkeypatch: pytest.MonkeyPatch, answer: bytes, close: bool, status: int | None, retryable: bool
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-loopback")
    provider = OpenAIDirectProvider()
    async with raw_upstream(answering(answer, close=close)) as upstream:
        monkeypatch.setenv("OPENAI_BASE_URL", upstream.base)
        try:
            for _ in range(2):  # the second call must not trip over the first one's connection
                with pytest.raises(ProviderError) as info:
                    await provider.complete(call())
                assert info.value.retryable is retryable
                assert info.value.upstream_status == status
        finally:
            await provider.aclose()
