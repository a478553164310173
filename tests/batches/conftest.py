"""Batch fixtures: JSONL inputs in the OpenAI Batch shape, and polling a batch to its end."""

from __future__ import annotations

import asyncio
from typing import Any

import openai
import orjson

CHAT_URL = "/v1/chat/completions"


def chat_line(
    custom_id: str, text: str, model: str = "support-chat", **body: Any
) -> dict[str, Any]:
    return {
        "custom_id": custom_id,
        "method": "POST",
        "url": CHAT_URL,
        "body": {
            "model": model,
            "messages": [{"role": "user", "content": text}],
            "variables": {"customer_name": "Ann"},
            **body,
        },
    }


def jsonl(lines: list[Any]) -> bytes:
    return b"".join(orjson.dumps(line) + b"\n" for line in lines)


def chat_file(count: int, model: str = "support-chat") -> bytes:
    return jsonl([chat_line(f"row-{i}", f"question {i}", model) for i in range(count)])


async def upload(oai: openai.AsyncOpenAI, content: bytes, name: str = "input.jsonl") -> Any:
    return await oai.files.create(file=(name, content, "application/jsonl"), purpose="batch")


async def wait_until(
    oai: openai.AsyncOpenAI, batch_id: str, statuses: tuple[str, ...], timeout_s: float = 30
) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        batch = await oai.batches.retrieve(batch_id)
        if batch.status in statuses:
            return batch
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"batch {batch_id} still {batch.status} after {timeout_s}s")
        await asyncio.sleep(0.05)


def lines_of(content: bytes) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in content.splitlines() if line.strip()]
