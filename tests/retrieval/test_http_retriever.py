"""The http retriever (respx-mocked): passages into the prompt, fail-open vs fail-closed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import respx
import yaml
from typer.testing import CliRunner

from app.cli.root import app as cli
from tests.conftest import fake_spec, push, set_alias, wait_for_record

RETRIEVER = "http://retriever.invalid/search"
VARS = {"variables": {"customer_name": "Ada"}}
SYSTEM = (
    "Help {{ customer_name }}.{% for p in retrieved %}\n[{{ p.source }}] {{ p.text }}{% endfor %}"
)


@pytest.fixture
def retriever() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        yield router


def http_spec(**retrieval: Any) -> dict[str, Any]:
    return fake_spec(
        prompt={"system": SYSTEM},
        retrieval={"kind": "http", "url": RETRIEVER, "top_k": 2, "timeout_s": 0.5, **retrieval},
    )


async def deploy(admin: httpx.AsyncClient, spec: dict[str, Any]) -> None:
    await push(admin, spec)
    await set_alias(admin, "dev", "support-chat", "support-chat@1")


async def test_passages_reach_the_prompt_and_the_record(
    admin: httpx.AsyncClient, oai: openai.AsyncOpenAI, retriever: respx.MockRouter
) -> None:
    route = retriever.post(RETRIEVER).respond(
        json={
            "results": [
                {"text": "Returns take 30 days.", "source": "kb/returns", "score": 2.5},
                {"text": "Refunds go to the card.", "source": "kb/refunds", "score": 1.0},
                {"text": "Beyond top_k.", "source": "kb/extra", "score": 0.5},
            ]
        }
    )
    await deploy(admin, http_spec(query="{{ customer_name }}: {{ last_user_message }}"))
    raw = await oai.chat.completions.with_raw_response.create(
        model="support-chat",
        messages=[{"role": "user", "content": "how do returns work?"}],
        extra_body=VARS,
    )
    assert json.loads(route.calls[0].request.content) == {
        "query": "Ada: how do returns work?",
        "top_k": 2,
    }
    record = await wait_for_record(admin, raw.headers["x-pinyard-request-id"])
    assert record["retrieved_sources"] == [
        {"source": "kb/returns", "score": 2.5},
        {"source": "kb/refunds", "score": 1.0},
    ]
    assert record["retrieval_error"] is None


async def test_fail_open_answers_without_passages_and_says_so(
    admin: httpx.AsyncClient, oai: openai.AsyncOpenAI, retriever: respx.MockRouter
) -> None:
    retriever.post(RETRIEVER).respond(503)
    await deploy(admin, http_spec(on_error="open"))
    raw = await oai.chat.completions.with_raw_response.create(
        model="support-chat", messages=[{"role": "user", "content": "hi"}], extra_body=VARS
    )
    assert raw.parse().choices[0].message.content == "[fake/echo] hi"
    record = await wait_for_record(admin, raw.headers["x-pinyard-request-id"])
    assert record["status"] == 200
    assert record["retrieved_sources"] == []
    assert record["retrieval_error"] == "retriever answered HTTP 503"
    metrics = (await admin.get("/metrics")).text
    labels = 'alias="support-chat",environment="dev",kind="http",on_error="open"'
    assert f"pinyard_retrieval_errors_total{{{labels}}} 1.0" in metrics


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (httpx.ConnectError("refused"), "retriever unreachable (ConnectError)"),
        (httpx.ReadTimeout("slow"), "retriever timed out after 0.5s"),
        (httpx.Response(200, json={"results": [{"no_text": 1}]}), "result 0 has no 'text'"),
    ],
)
async def test_fail_closed_refuses_the_request(
    admin: httpx.AsyncClient,
    oai: openai.AsyncOpenAI,
    retriever: respx.MockRouter,
    failure: Any,
    reason: str,
) -> None:
    route = retriever.post(RETRIEVER)
    if isinstance(failure, httpx.Response):
        route.mock(return_value=failure)
    else:
        route.mock(side_effect=failure)
    await deploy(admin, http_spec(on_error="closed"))
    with pytest.raises(openai.APIStatusError) as err:
        await oai.chat.completions.create(
            model="support-chat", messages=[{"role": "user", "content": "hi"}], extra_body=VARS
        )
    assert err.value.status_code == 502
    assert err.value.code == "retrieval_failed"
    assert reason in err.value.message
    record = await wait_for_record(admin, err.value.response.headers["x-pinyard-request-id"])
    assert record["status"] == 502 and reason in record["retrieval_error"]
    assert record["attempts"] == []  # the model was never called


async def test_a_blank_query_does_not_call_the_retriever(
    admin: httpx.AsyncClient, oai: openai.AsyncOpenAI, retriever: respx.MockRouter
) -> None:
    route = retriever.post(RETRIEVER).respond(json={"results": []})
    await deploy(admin, http_spec())
    await oai.chat.completions.create(
        model="support-chat", messages=[{"role": "system", "content": "no user"}], extra_body=VARS
    )
    assert not route.called


def _bundle_file(tmp_path: Path) -> Path:
    spec = http_spec()
    spec["prompt"] = {"system": "Help {{ customer_name }}."}
    (tmp_path / "bundle.yaml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    return tmp_path


def test_validate_refuses_an_unreachable_retriever(
    tmp_path: Path, retriever: respx.MockRouter
) -> None:
    retriever.post(RETRIEVER).mock(side_effect=httpx.ConnectError("refused"))
    result = CliRunner().invoke(cli, ["bundle", "validate", str(_bundle_file(tmp_path))])
    assert result.exit_code == 2
    assert f"retrieval.url {RETRIEVER} is unreachable" in result.stderr
    offline = ["bundle", "validate", "--offline", str(_bundle_file(tmp_path))]
    assert CliRunner().invoke(cli, offline).exit_code == 0


def test_validate_accepts_a_retriever_that_answers(
    tmp_path: Path, retriever: respx.MockRouter
) -> None:
    retriever.post(RETRIEVER).respond(405)  # any answer means it is there
    result = CliRunner().invoke(cli, ["bundle", "validate", str(_bundle_file(tmp_path))])
    assert result.exit_code == 0, result.output
    assert f"http {RETRIEVER}, top 2, on_error closed" in result.stdout


async def test_registration_never_calls_the_retriever(
    admin: httpx.AsyncClient, retriever: respx.MockRouter
) -> None:
    route = retriever.post(RETRIEVER).mock(side_effect=httpx.ConnectError("down"))
    await push(admin, http_spec())
    assert not route.called
