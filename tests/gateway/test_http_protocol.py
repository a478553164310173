"""``pinyard serve``'s HTTP protocol: a response's head leaves with its body, never held back."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn

from app.gateway.http_protocol import CoalescingHttpToolsProtocol, _HeadWithBody


class _Recorder(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


async def test_the_head_joins_the_body_or_leaves_on_the_next_turn() -> None:
    loop = asyncio.get_running_loop()
    joined = _Recorder()
    transport = _HeadWithBody(joined, loop)
    transport.write(b"HEAD")
    transport.write(b"BODY")
    transport.write(b"MORE")
    assert joined.writes == [b"HEADBODY", b"MORE"]

    alone = _Recorder()
    transport = _HeadWithBody(alone, loop)
    transport.write(b"HEAD")
    assert alone.writes == []
    await asyncio.sleep(0)  # one turn of the loop
    assert alone.writes == [b"HEAD"]

    closing = _Recorder()
    transport = _HeadWithBody(closing, loop)
    transport.write(b"HEAD")
    transport.close()
    assert closing.writes == [b"HEAD"] and closing.closed


class _App:
    """``/`` answers at once; ``/slow`` sends its head, then its body once the test saw the head."""

    def __init__(self) -> None:
        self.head_seen = asyncio.Event()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        slow = scope["path"] == "/slow"
        headers = [(b"content-type", b"text/plain")]
        if not slow:
            headers.append((b"content-length", b"5"))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        if slow:
            await self.head_seen.wait()
            await send({"type": "http.response.body", "body": b"late", "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        else:
            await send({"type": "http.response.body", "body": b"hello"})


@pytest.fixture
async def served() -> AsyncIterator[tuple[str, _App]]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    app = _App()
    config = uvicorn.Config(app, http=CoalescingHttpToolsProtocol, log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", app
    finally:
        app.head_seen.set()  # never leave /slow hanging, even when the test failed
        server.should_exit = server.force_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            async with asyncio.timeout(10):
                await task


async def test_answers_over_keep_alive_and_a_head_without_a_body_yet(
    served: tuple[str, _App],
) -> None:
    base, app = served
    async with httpx.AsyncClient(base_url=base) as client:
        for _ in range(3):
            answer = await client.get("/")
            assert answer.status_code == 200 and answer.text == "hello"
        # A head held back until the body would never arrive: the wait fails instead.
        async with asyncio.timeout(10):
            async with client.stream("GET", "/slow") as response:
                assert response.status_code == 200
                app.head_seen.set()
                assert await response.aread() == b"late"
