"""Deprecation, Sunset and Link on every answer of a retiring bundle, checked against the RFCs."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import openai
import pytest

from app.deprecations.headers import deprecation_headers, http_date, structured_date
from tests.conftest import BASE, fake_spec, push, set_alias
from tests.deprecations.conftest import DEPRECATED, SHUTDOWN, SOURCE, retiring_spec

VARS = {"variables": {"customer_name": "Ada"}}
STRUCTURED_DATE = re.compile(r"^@\d+$")  # RFC 9745 / RFC 9651 Date
IMF_FIXDATE = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"\d{4} \d{2}:\d{2}:\d{2} GMT$"
)


def check_rfc_headers(headers: Any, deprecated: date, shutdown: date, source: str) -> None:
    deprecation = headers["deprecation"]
    assert STRUCTURED_DATE.match(deprecation), deprecation
    deprecated_at = datetime.fromtimestamp(int(deprecation[1:]), UTC)
    assert deprecated_at == datetime(deprecated.year, deprecated.month, deprecated.day, tzinfo=UTC)
    sunset = headers["sunset"]
    assert IMF_FIXDATE.match(sunset), sunset
    sunset_at = parsedate_to_datetime(sunset)
    assert sunset_at == datetime(shutdown.year, shutdown.month, shutdown.day, tzinfo=UTC)
    assert sunset_at >= deprecated_at  # RFC 8594: Sunset never before Deprecation
    assert headers["link"] == f'<{source}>; rel="deprecation"'


def test_formats() -> None:
    assert structured_date(date(2026, 3, 1)) == "@1772323200"
    assert http_date(date(2026, 3, 1)) == "Sun, 01 Mar 2026 00:00:00 GMT"
    assert deprecation_headers(None, None, None) == ()
    # Only a shutdown date known: deprecated (at the latest) then, Sunset equal.
    only_shutdown = dict(deprecation_headers(None, date(2027, 1, 14), None))
    assert only_shutdown == {
        "Deprecation": structured_date(date(2027, 1, 14)),
        "Sunset": "Thu, 14 Jan 2027 00:00:00 GMT",
    }
    # Impossible data (deprecated after shutdown) never yields Sunset < Deprecation.
    clamped = dict(deprecation_headers(date(2027, 6, 1), date(2027, 1, 14), None))
    assert clamped["Deprecation"] == structured_date(date(2027, 1, 14))
    # Deprecated, no shutdown announced yet: Deprecation and Link, no Sunset.
    assert dict(deprecation_headers(date(2026, 1, 1), None, "https://x.example/n")) == {
        "Deprecation": structured_date(date(2026, 1, 1)),
        "Link": '<https://x.example/n>; rel="deprecation"',
    }


async def test_every_answer_of_a_retiring_bundle_carries_the_headers(
    dep_app: Any, dep_admin: httpx.AsyncClient
) -> None:
    await push(dep_admin, retiring_spec())
    await push(dep_admin, fake_spec())
    await set_alias(dep_admin, "dev", "legacy-chat", "legacy-chat@1")
    await set_alias(dep_admin, "dev", "support-chat", "support-chat@1")
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=dep_app))
    oai = openai.AsyncOpenAI(base_url=f"{BASE}/v1", api_key="x", http_client=http, max_retries=0)
    messages: Any = [{"role": "user", "content": "hi"}]

    raw = await oai.chat.completions.with_raw_response.create(
        model="legacy-chat", messages=messages, extra_body=VARS
    )
    check_rfc_headers(raw.headers, DEPRECATED, SHUTDOWN, SOURCE)
    assert raw.headers["x-pinyard-provider-model"] == "fake/retiring"

    async with oai.chat.completions.with_streaming_response.create(
        model="legacy-chat", messages=messages, extra_body=VARS, stream=True
    ) as streamed:
        check_rfc_headers(streamed.headers, DEPRECATED, SHUTDOWN, SOURCE)
        async for _ in streamed.iter_lines():
            pass

    pinned = await oai.chat.completions.with_raw_response.create(
        model="legacy-chat@1", messages=messages, extra_body=VARS
    )
    check_rfc_headers(pinned.headers, DEPRECATED, SHUTDOWN, SOURCE)

    with pytest.raises(openai.BadRequestError) as failed:  # errors carry them too
        await oai.chat.completions.create(model="legacy-chat", messages=messages)
    check_rfc_headers(failed.value.response.headers, DEPRECATED, SHUTDOWN, SOURCE)

    healthy = await oai.chat.completions.with_raw_response.create(
        model="support-chat", messages=messages, extra_body=VARS
    )
    assert "deprecation" not in healthy.headers and "sunset" not in healthy.headers
    await oai.close()


async def test_headers_are_computed_once_per_bundle(
    dep_app: Any, dep_admin: httpx.AsyncClient
) -> None:
    await push(dep_admin, retiring_spec())
    await set_alias(dep_admin, "dev", "legacy-chat", "legacy-chat@1")
    served = dep_app.state.ctx.snapshots.current.alias("dev", "legacy-chat")
    assert dict(served.deprecation_headers)["Sunset"] == http_date(SHUTDOWN)
