"""Helpers for the eval tests: stub targets, compiled bundles, suite files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from app.bundles.spec import BundleSpec
from app.evals.scorers.scorer import Observation
from app.evals.suite import Case
from app.evals.targets import CallFailed, Reply, TargetInfo
from app.registry.compiled import CompiledBundle, compile_bundle
from tests.conftest import fake_spec


def compiled(**overrides: Any) -> CompiledBundle:
    return compile_bundle(BundleSpec.model_validate(fake_spec(**overrides)))


def reply(text: str | None, **extra: Any) -> Reply:
    response = {"choices": [{"index": 0, "message": {"role": "assistant", "content": text}}]}
    return Reply(
        response={**response, **extra.pop("response", {})},
        latency_ms=extra.pop("latency_ms", 5.0),
        model=extra.pop("model", "fake/echo"),
        cost_usd=extra.pop("cost_usd", 0.0),
    )


def observe(text: str, *, case: dict[str, Any] | None = None, **extra: Any) -> Observation:
    schema = extra.pop("output_schema", None)
    the_case = Case.model_validate(
        case or {"id": "c1", "messages": [{"role": "user", "content": "hello 1234"}]}
    )
    return Observation(the_case, text, reply(text, **extra), schema)


class StubTarget:
    """A target whose answers come from a function of (body, call number); counts calls."""

    def __init__(
        self,
        answer: Callable[[dict[str, Any], int], str | CallFailed],
        *,
        name: str = "support-chat",
        bundle: CompiledBundle | None = None,
    ) -> None:
        self.compiled = bundle or compiled(name=name)
        self.info = TargetInfo(
            name=self.compiled.name,
            digest=self.compiled.digest,
            version=1,
            model="fake/echo",
            source="ref",
            reference=f"{name}@1",
        )
        self.answer = answer
        self.calls = 0

    async def complete(self, body: dict[str, Any]) -> Reply:
        number = self.calls
        self.calls += 1
        value = self.answer(body, number)
        if isinstance(value, CallFailed):
            raise value
        return reply(value)


def last_user(body: dict[str, Any]) -> str:
    return str(body["messages"][-1]["content"])


def write_suite(folder: Path, name: str = "smoke", **overrides: Any) -> Path:
    data: dict[str, Any] = {
        "name": name,
        "variables": {"customer_name": "Ada"},
        "scorers": [{"type": "contains", "value": "1234"}],
        "cases": [
            {"id": "order", "messages": [{"role": "user", "content": "Where is order 1234?"}]},
            {"id": "again", "messages": [{"role": "user", "content": "Order 1234 again"}]},
        ],
    }
    data.update(overrides)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path
