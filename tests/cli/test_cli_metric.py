"""``pinyard metric``: declare, list, show; refusals exit 2."""

from __future__ import annotations

import json

from starlette.testclient import TestClient

from tests.cli.helpers import Invoke


def test_metric_create_list_show(server: TestClient, invoke: Invoke) -> None:
    made = invoke("metric", "create", "thumbs_up", "--type", "boolean", "--direction", "higher")
    assert made.exit_code == 0, made.output
    assert made.stdout.strip() == "declared: thumbs_up (boolean, higher is better)"
    again = invoke("metric", "create", "thumbs_up", "--type", "boolean", "--direction", "higher")
    assert again.exit_code == 0 and again.stdout.startswith("already declared")
    stars = invoke(
        "metric", "create", "stars", "--type", "integer", "--direction", "higher",
        "--min", "1", "--max", "5", "--json",
    )  # fmt: skip
    assert stars.exit_code == 0, stars.output
    assert json.loads(stars.stdout)["max"] == 5.0
    listed = invoke("metric", "list", "--json")
    assert [m["name"] for m in json.loads(listed.stdout)["data"]] == ["stars", "thumbs_up"]
    assert "thumbs_up" in invoke("metric", "list").stdout
    assert "boolean" in invoke("metric", "show", "thumbs_up").stdout


def test_metric_refusals_exit_2_with_the_reason(server: TestClient, invoke: Invoke) -> None:
    no_direction = invoke("metric", "create", "latency", "--type", "float")
    assert no_direction.exit_code == 2
    assert "needs a direction" in no_direction.stderr
    invoke("metric", "create", "thumbs_up", "--type", "boolean", "--direction", "higher")
    changed = invoke("metric", "create", "thumbs_up", "--type", "boolean", "--direction", "lower")
    assert changed.exit_code == 2 and "already declared differently" in changed.stderr
    assert invoke("metric", "show", "nope").exit_code == 2
