"""Cost per request: usage x price (litellm's map, under the overrides file), on the record."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import respx

from app.main import create_app
from app.providers.pricing import PriceBook, PricesFileError, cost_header, load_prices_file
from app.settings import Settings
from tests.conftest import fake_spec, make_settings, push, set_alias, wait_for_record
from tests.gateway.conftest import PINNED, completion, openai_spec

USAGE = {"prompt_tokens": 1000, "completion_tokens": 200, "total_tokens": 1200}


def test_cost_is_usage_times_litellms_price() -> None:
    prices = PriceBook.load()
    price = prices.price(PINNED)
    assert price is not None and price.source == "litellm"
    assert price.input == pytest.approx(2.5e-06) and price.output == pytest.approx(1e-05)
    assert prices.cost(PINNED, USAGE) == pytest.approx(1000 * 2.5e-06 + 200 * 1e-05)
    assert prices.cost("fake/echo", USAGE) == 0.0
    assert prices.cost("openai/no-such-model-2020-01-01", USAGE) is None
    assert prices.cost(PINNED, None) is None


def test_cached_prompt_tokens_are_priced_as_cache_reads() -> None:
    prices = PriceBook.load()
    usage = {**USAGE, "prompt_tokens_details": {"cached_tokens": 400}}
    expected = 600 * 2.5e-06 + 400 * 1.25e-06 + 200 * 1e-05
    assert prices.cost(PINNED, usage) == pytest.approx(expected)


def test_the_overrides_file_wins_over_litellm(tmp_path: Path) -> None:
    path = tmp_path / "prices.yaml"
    path.write_text(
        f"- model: {PINNED}\n  input_per_million: 1.0\n  output_per_million: 4.0\n"
        "  note: negotiated\n"
        "- model: openai/in-house-2026-01-01\n  input_per_million: 0.5\n"
        "  output_per_million: 0.5\n"
    )
    prices = PriceBook.load(path)
    assert prices.cost(PINNED, USAGE) == pytest.approx(1000 * 1e-06 + 200 * 4e-06)
    assert prices.price(PINNED).source == "overrides"  # type: ignore[union-attr]
    assert prices.cost("openai/in-house-2026-01-01", USAGE) == pytest.approx(1200 * 5e-07)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("model: x", "YAML list"),
        ("- model: x\n  input_per_million: -1\n  output_per_million: 1", "input_per_million"),
        ("- model: x\n  input_per_million: 1", "output_per_million"),
        ("- {model: x, input_per_million: 1, output_per_million: 1, surprise: 2}", "surprise"),
        (
            "- {model: x, input_per_million: 1, output_per_million: 1}\n"
            "- {model: x, input_per_million: 2, output_per_million: 2}",
            "twice",
        ),
    ],
)
def test_a_bad_prices_file_fails_start_up(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "prices.yaml"
    path.write_text(text)
    with pytest.raises(PricesFileError, match=needle):
        load_prices_file(path)


def test_a_broken_prices_file_stops_the_gateway_from_starting(
    settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "prices.yaml"
    path.write_text("nope: [")
    with pytest.raises(PricesFileError, match="cannot read prices file"):
        create_app(make_settings(settings, prices_file=path))


def test_cost_header_is_plain_decimal() -> None:
    assert cost_header(6.75e-05) == "0.0000675"
    assert cost_header(0.0) == "0"
    assert cost_header(1.5) == "1.5"


async def test_answers_carry_their_cost_and_the_record_stores_it(
    admin: httpx.AsyncClient, oai: openai.AsyncOpenAI, upstream: respx.MockRouter
) -> None:
    upstream.post("/chat/completions").respond(json=completion())  # 11 prompt, 4 completion
    await push(admin, openai_spec())
    await set_alias(admin, "dev", "support-chat", "support-chat@1")
    raw = await oai.chat.completions.with_raw_response.create(
        model="support-chat",
        messages=[{"role": "user", "content": "hi"}],
        extra_body={"variables": {"customer_name": "Ada"}},
    )
    expected = 11 * 2.5e-06 + 4 * 1e-05
    assert float(raw.headers["x-pinyard-cost-usd"]) == pytest.approx(expected)
    record = await wait_for_record(admin, raw.headers["x-pinyard-request-id"])
    assert record["cost_usd"] == pytest.approx(expected)
    digest = raw.headers["x-pinyard-bundle-digest"]
    metrics = (await admin.get("/metrics")).text
    line = f'pinyard_cost_usd_total{{alias="support-chat",digest="{digest}",environment="dev"}}'
    assert float(metrics.split(line, 1)[1].split()[0]) == pytest.approx(expected)


async def test_fake_answers_cost_nothing_and_unknown_prices_send_no_header(
    app: Any, admin: httpx.AsyncClient, oai: openai.AsyncOpenAI, upstream: respx.MockRouter
) -> None:
    await push(admin, fake_spec())
    await set_alias(admin, "dev", "support-chat", "support-chat@1")
    body: dict[str, Any] = {
        "model": "support-chat",
        "messages": [{"role": "user", "content": "hi"}],
        "extra_body": {"variables": {"customer_name": "Ada"}},
    }
    fake = await oai.chat.completions.with_raw_response.create(**body)
    assert fake.headers["x-pinyard-cost-usd"] == "0"
    upstream.post("/chat/completions").respond(json=completion())
    await push(admin, openai_spec(name="unpriced", model="openai/in-house-2026-01-01"))
    await set_alias(admin, "dev", "unpriced", "unpriced@1")
    unpriced = await oai.chat.completions.with_raw_response.create(**{**body, "model": "unpriced"})
    assert "x-pinyard-cost-usd" not in unpriced.headers
    record = await wait_for_record(admin, unpriced.headers["x-pinyard-request-id"])
    assert record["cost_usd"] is None and record["prompt_tokens"] == 11


async def test_a_streamed_answer_records_its_cost(
    admin: httpx.AsyncClient, oai: openai.AsyncOpenAI, upstream: respx.MockRouter
) -> None:
    from tests.gateway.conftest import chunk, sse_body

    usage = {"prompt_tokens": 11, "completion_tokens": 4, "total_tokens": 15}
    upstream.post("/chat/completions").respond(
        content=sse_body([chunk({"content": "Hel"}), chunk({"content": "lo"}, "stop", usage)]),
        headers={"content-type": "text/event-stream"},
    )
    await push(admin, openai_spec())
    await set_alias(admin, "dev", "support-chat", "support-chat@1")
    async with oai.chat.completions.with_streaming_response.create(
        model="support-chat",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        stream_options={"include_usage": True},
        extra_body={"variables": {"customer_name": "Ada"}},
    ) as response:
        request_id = response.headers["x-pinyard-request-id"]
        assert "x-pinyard-cost-usd" not in response.headers  # sent before the usage is known
        async for _ in response.iter_lines():
            pass
    record = await wait_for_record(admin, request_id)
    assert record["cost_usd"] == pytest.approx(11 * 2.5e-06 + 4 * 1e-05)


def test_the_example_prices_file_loads() -> None:
    root = Path(__file__).resolve().parents[2]
    prices = PriceBook.load(root / "prices.example.yaml")
    assert (
        prices.price("openai/gpt-4o-2024-11-20")
        == load_prices_file(root / "prices.example.yaml")["openai/gpt-4o-2024-11-20"]
    )
    assert prices.cost("vllm/llama-3.3-70b-instruct", USAGE) == pytest.approx(1200 * 2e-07)
