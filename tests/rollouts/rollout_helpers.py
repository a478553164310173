"""Helpers of the rollout tests: bundles, load, waiting for records, a test clock."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import httpx

from app.context import AppContext
from app.registry.db import read_session
from app.registry.rollout_repo import RolloutRepository
from app.registry.tables import utcnow
from tests.conftest import push, set_alias


class Clock:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


def spec(model: str = "fake/echo", system: str = "You help {{ customer_name }}.") -> dict[str, Any]:
    return {
        "name": "support-chat",
        "model": model,
        "params": {"temperature": 0.2},
        "client_params": ["user"],
        "prompt": {"system": system},
        "variables_schema": {
            "type": "object",
            "properties": {"customer_name": {"type": "string"}},
            "required": ["customer_name"],
        },
    }


async def baseline_and(admin: httpx.AsyncClient, candidate_model: str = "fake/echo") -> str:
    """support-chat@1 (fake/echo) live in dev; returns the candidate's ref (@2)."""
    await push(admin, spec())
    await set_alias(admin, "dev", "support-chat", "support-chat@1")
    candidate = await push(
        admin, spec(candidate_model, system="You kindly help {{ customer_name }}.")
    )
    return f"support-chat@{candidate['version']}"


async def start(
    admin: httpx.AsyncClient, candidate: str, expect: int = 201, **body: Any
) -> dict[str, Any]:
    payload = {"candidate": candidate, "reason": "try it", "min_duration_s": 60, **body}
    response = await admin.post(
        "/admin/environments/dev/aliases/support-chat/rollout", json=payload
    )
    assert response.status_code == expect, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def chat(data: httpx.AsyncClient, user: str | None, text: str) -> httpx.Response:
    body: dict[str, Any] = {
        "model": "support-chat",
        "messages": [{"role": "user", "content": text}],
        "variables": {"customer_name": "Ada"},
    }
    if user is not None:
        body["user"] = user
    return await data.post("/v1/chat/completions", json=body)


async def load(data: httpx.AsyncClient, n: int, *, offset: int = 0) -> list[httpx.Response]:
    """``n`` requests from ``n`` users, each with its own question, a few at a time."""
    answers: list[httpx.Response] = []
    for first in range(offset, offset + n, 10):
        batch = range(first, min(first + 10, offset + n))
        answers += await asyncio.gather(
            *(chat(data, f"user-{i}", f"Where is my order {i}?") for i in batch)
        )
    return answers


async def settle(ctx: AppContext, rollout_id: str, expected: int) -> None:
    """Wait until ``expected`` requests of the rollout are recorded and shadow pairs written."""
    for _ in range(400):
        with read_session(ctx.engine) as session:
            counts = RolloutRepository(session).arm_counts(rollout_id)
        if (
            sum(c.requests for c in counts.values()) >= expected
            and ctx.rollouts.shadow.pending == 0
        ):
            await ctx.rollouts.shadow.flush()
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"only {counts} recorded, expected {expected}")


async def audit(admin: httpx.AsyncClient, action: str) -> list[dict[str, Any]]:
    response = await admin.get("/admin/audit", params={"action": action, "limit": 1000})
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()["data"]
    return events
