"""LangChain's ChatOpenAI against the gateway: invoke, stream, tools, structured output."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_openai import ChatOpenAI
from pydantic import BaseModel

from tests.anthropic.conftest import support_chat
from tests.conftest import BASE, wait_for_record


class Order(BaseModel):
    order_id: str
    status: str


@pytest.fixture
async def llm(app: Any, admin: httpx.AsyncClient) -> AsyncIterator[ChatOpenAI]:
    await support_chat(admin)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app))
    yield ChatOpenAI(
        model="support-chat",
        base_url=f"{BASE}/v1",
        api_key="unused-in-local-mode",  # type: ignore[arg-type]
        extra_body={"variables": {"customer_name": "Ada"}},
        http_async_client=http,
        max_retries=0,
    )
    await http.aclose()


async def test_invoke(llm: ChatOpenAI, admin: httpx.AsyncClient) -> None:
    answer = await llm.ainvoke("where is my order?")
    assert isinstance(answer, AIMessage)
    assert answer.content == "[fake/echo] where is my order?"
    assert answer.usage_metadata is not None and answer.usage_metadata["output_tokens"] == 5
    assert answer.response_metadata["model_name"] == "fake/echo"


async def test_stream(llm: ChatOpenAI) -> None:
    pieces: list[AIMessageChunk] = [chunk async for chunk in llm.astream("stream this please")]
    assert "".join(str(p.content) for p in pieces) == "[fake/echo] stream this please"
    assert len([p for p in pieces if p.content]) > 1


async def test_tool_calls(llm: ChatOpenAI) -> None:
    def get_order(order_id: str) -> str:
        """Look an order up by id."""
        return "shipped"

    answer = await llm.bind_tools([get_order]).ainvoke("where is order 7?")
    assert isinstance(answer, AIMessage)
    assert answer.tool_calls[0]["name"] == "get_order"
    assert answer.tool_calls[0]["args"] == {"order_id": ""}


@pytest.mark.parametrize("method", ["json_schema", "function_calling"])
async def test_with_structured_output(llm: ChatOpenAI, method: str) -> None:
    structured = llm.with_structured_output(Order, method=method)  # type: ignore[arg-type]
    # The fake answers with the minimal instance of the requested schema.
    assert await structured.ainvoke("order 12, as JSON please") == Order(order_id="", status="")


async def test_requests_are_recorded_with_lineage(
    llm: ChatOpenAI, admin: httpx.AsyncClient
) -> None:
    raw = llm.model_copy(update={"include_response_headers": True})
    answer = await raw.ainvoke("hello")
    headers = answer.response_metadata["headers"]
    record = await wait_for_record(admin, headers["x-pinyard-request-id"])
    assert record["alias"] == "support-chat" and record["endpoint"] == "chat.completions"
    assert headers["x-pinyard-bundle"] == "support-chat@1"
