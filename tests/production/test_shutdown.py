"""SIGTERM during a stream: the stream completes, the record is written, exit 0.

A real ``pinyard serve`` process streams from a slow upstream on loopback
(one chunk every 0.25 s). Once the first chunk has arrived the test sends
SIGTERM: the gateway stops accepting new connections at once, lets the open
stream run to ``[DONE]``, flushes the request record and exits 0. Runs on the
embedded SQLite database, so it needs no PostgreSQL.
"""

from __future__ import annotations

import signal
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import orjson

from tests.production.procs import Gateway, base_env, push_and_alias, wait_until
from tests.production.upstream import SlowUpstream

SPEC = {"name": "slow-chat", "model": "openai/gpt-4o-2024-11-20", "prompt": {"system": "Hi."}}


def _refused(url: str) -> bool:
    try:
        httpx.get(f"{url}/healthz", timeout=0.5)
    except httpx.ConnectError:
        return True
    except httpx.HTTPError:
        return False
    return False


def test_sigterm_lets_an_open_stream_finish_and_writes_its_record(
    tmp_path: Path, gateway_factory: Callable[..., Gateway]
) -> None:
    database = tmp_path / "gateway.db"
    with SlowUpstream(words=8, delay_s=0.25) as upstream:
        env = base_env(
            PINYARD_DATABASE_URL=f"sqlite:///{database}",
            PINYARD_SHUTDOWN_GRACE_S="20",
            PINYARD_RECORD_FLUSH_INTERVAL_S="30",  # only the shutdown flush can write it
            OPENAI_BASE_URL=upstream.base_url,
            OPENAI_API_KEY="sk-loopback",
        )
        gateway = gateway_factory("gw", env)
        push_and_alias(gateway, SPEC)
        assert gateway.process is not None
        body = {
            "model": "slow-chat",
            "messages": [{"role": "user", "content": "go"}],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        events: list[str] = []
        with (
            httpx.Client(timeout=30) as client,
            client.stream("POST", f"{gateway.url}/v1/chat/completions", json=body) as response,
        ):
            assert response.status_code == 200
            request_id = response.headers["x-pinyard-request-id"]
            lines = response.iter_lines()
            events.append(next(line for line in lines if line.startswith("data: ")))
            signalled = time.monotonic()
            gateway.process.send_signal(signal.SIGTERM)
            wait_until(lambda: _refused(gateway.url), 5, "the gateway to stop accepting")
            events.extend(line for line in lines if line.startswith("data: "))
        streamed_s = time.monotonic() - signalled
        exit_code = gateway.process.wait(30)

    assert exit_code == 0, gateway.log_text()[-3000:]
    assert events[-1] == "data: [DONE]"
    chunks = [orjson.loads(event.removeprefix("data: ")) for event in events[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == upstream.text  # every word, after the signal too
    assert streamed_s > 1.0  # the stream really outlived the signal

    with sqlite3.connect(database) as db:
        row = db.execute(
            "SELECT status, stream, completion_tokens FROM request_records WHERE id = ?",
            (request_id,),
        ).fetchone()
    assert row == (200, 1, 8)

    lines = gateway.log_lines()
    assert lines, gateway.log_text()[-2000:]
    about_it = [line for line in lines if line.get("request_id") == request_id]
    assert any(line["logger"] == "uvicorn.access" for line in about_it), about_it
    assert all({"time", "level", "logger", "message"} <= line.keys() for line in lines)
