"""``pinyard policy`` and gate refusals through the CLI."""

from __future__ import annotations

import json

from starlette.testclient import TestClient

from app.registry.gates import PromotionRequest
from tests.cli.helpers import Invoke, MakeBundle


def test_policy_show_and_set(server: TestClient, invoke: Invoke) -> None:
    shown = invoke("policy", "show", "prod", "--json")
    assert shown.exit_code == 0 and json.loads(shown.stdout)["policy"]["protected"] is True
    changed = invoke(
        "policy",
        "set",
        "prod",
        "support-chat",
        "--reason",
        "gate it",
        "--require-suite",
        "smoke",
        "--require-suite",
        "safety",
        "--max-age-days",
        "7",
        "--json",
    )
    assert changed.exit_code == 0, changed.output
    policy = json.loads(changed.stdout)["policy"]
    assert policy["aliases"]["support-chat"] == {
        "required_suites": ["smoke", "safety"],
        "max_age_days": 7.0,
        "run_on_promotion": False,
    }
    env_level = invoke("policy", "set", "prod", "--reason", "stricter", "--block-within-days", "30")
    assert env_level.exit_code == 0
    assert "30" in invoke("policy", "show", "prod").stdout


def test_policy_set_bad_input_exits_2(server: TestClient, invoke: Invoke) -> None:
    assert invoke("policy", "set", "prod", "--protected").exit_code == 2  # no reason
    no_alias = invoke("policy", "set", "prod", "--reason", "r", "--require-suite", "x")
    assert no_alias.exit_code == 2 and "need an ALIAS" in no_alias.output
    assert invoke("policy", "show", "qa").exit_code == 2


class Refuse:
    name = "always"

    def check(self, request: PromotionRequest) -> list[str]:
        return ["no promotions today"]


def test_a_refusing_gate_exits_1_and_override_passes(
    server: TestClient, invoke: Invoke, make_bundle: MakeBundle
) -> None:
    server.app.state.ctx.registry.gates.append(Refuse())  # type: ignore[attr-defined]
    assert invoke("bundle", "push", str(make_bundle())).exit_code == 0
    refused = invoke("alias", "set", "prod", "support-chat", "support-chat@1", "--reason", "go")
    assert refused.exit_code == 1 and "no promotions today" in refused.output
    forced = invoke(
        "alias", "set", "prod", "support-chat", "support-chat@1", "--reason", "go", "--override"
    )
    assert forced.exit_code == 0, forced.output
