"""The gateway in front of real servers nobody here wrote, as the OpenAI SDK sees it.

uvicorn, hypercorn, aiohttp and the standard library's ``http.server`` each
serve an OpenAI-compatible upstream on loopback (``upstream_servers``), in
plain HTTP and over TLS with a certificate made for the test and trusted
through ``SSL_CERT_FILE``. Every one must answer JSON and streamed requests
through the gateway's own HTTP/1.1 client, twice in a row (a kept-alive
connection, or for ``http.server`` a fresh one after each close-delimited body).
"""

from __future__ import annotations

from pathlib import Path

import httpx
import openai
import pytest

from tests.conftest import push, set_alias
from tests.gateway.conftest import openai_spec
from tests.gateway.upstream_servers import SERVERS, Certificate, make_certificate, serving

VARS = {"variables": {"customer_name": "Ada"}}


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only: these tests are about the upstream, not the registry's database."""
    return f"sqlite:///{tmp_path}/pinyard.db"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    return make_certificate(tmp_path_factory.mktemp("tls"))


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
@pytest.mark.parametrize("server", SERVERS)
async def test_json_and_streams_through_a_real_upstream_server(
    admin: httpx.AsyncClient,
    oai: openai.AsyncOpenAI,
    monkeypatch: pytest.MonkeyPatch,
    certificate: Certificate,
    server: str,
    tls: bool,
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate.ca_file))
    async with serving(server, certificate if tls else None) as base:
        monkeypatch.setenv("OPENAI_BASE_URL", base)
        await push(admin, openai_spec(timeout_s=10))
        await set_alias(admin, "dev", "support-chat", "support-chat@1")
        expected = f"{server} heard: hello there"
        messages: list[openai.types.chat.ChatCompletionMessageParam] = [
            {"role": "user", "content": "hello there"}
        ]
        for _ in range(2):
            answer = await oai.chat.completions.create(
                model="support-chat", messages=messages, extra_body=VARS
            )
            assert answer.choices[0].message.content == expected
            assert answer.choices[0].finish_reason == "stop"
            stream = await oai.chat.completions.create(
                model="support-chat",
                messages=messages,
                extra_body=VARS,
                stream=True,
                stream_options={"include_usage": True},
            )
            parts = [part async for part in stream]
            text = "".join(p.choices[0].delta.content or "" for p in parts if p.choices)
            assert text == expected
            assert [p.choices[0].finish_reason for p in parts if p.choices][-1] == "stop"
            assert parts[-1].usage is not None
            assert parts[-1].usage.completion_tokens == len(expected.split())


async def test_an_untrusted_certificate_is_refused(
    admin: httpx.AsyncClient,
    oai: openai.AsyncOpenAI,
    monkeypatch: pytest.MonkeyPatch,
    certificate: Certificate,
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)  # certifi's roots do not know the CA
    async with serving("uvicorn", certificate) as base:
        monkeypatch.setenv("OPENAI_BASE_URL", base)
        await push(admin, openai_spec(timeout_s=10))
        await set_alias(admin, "dev", "support-chat", "support-chat@1")
        with pytest.raises(openai.APIStatusError) as err:
            await oai.chat.completions.create(
                model="support-chat", messages=[{"role": "user", "content": "hi"}], extra_body=VARS
            )
    assert err.value.status_code == 502
    assert "CERTIFICATE_VERIFY_FAILED" in err.value.response.json()["error"]["message"]
