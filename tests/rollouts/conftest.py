"""Rollout fixtures: an app whose analysis loop only runs when a test ticks it, on a test clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from app.context import AppContext
from app.settings import Settings
from tests.conftest import BASE, make_settings
from tests.rollouts.rollout_helpers import Clock


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The shared settings, with the background analysis loop off: tests call ``tick``."""
    return make_settings(settings, rollout_analysis=False)


@pytest.fixture
def ctx(app: Any) -> AppContext:
    context: AppContext = app.state.ctx
    return context


@pytest.fixture
def clock(ctx: AppContext) -> Clock:
    clock = Clock()
    ctx.rollouts.service.clock = clock
    ctx.rollouts.loop.clock = clock
    return clock


@pytest.fixture
async def data(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The data plane, with no token (local mode)."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client:
        yield client
