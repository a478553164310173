"""The README's bad-input table is true: each row, sent as written, gets its answer."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.conftest import fake_spec, push, set_alias

README = Path(__file__).resolve().parents[2] / "README.md"
ROW = re.compile(
    r"^\| `(?P<fields>[^`]+)`[^|]* \| (?P<status>\d+) "
    r"\| `(?P<code>[^`]+)` \| `(?P<param>[^`]+)` \|$"
)


def table_rows() -> list[tuple[str, int, str, str]]:
    text = README.read_text()
    table = text.split("<!-- bad-input-table -->")[1].split("<!-- /bad-input-table -->")[0]
    rows = [ROW.match(line) for line in table.strip().splitlines()[2:]]
    assert rows and all(rows), "every row of the table has the documented form"
    return [(m["fields"], int(m["status"]), m["code"], m["param"]) for m in rows if m]


@pytest.mark.parametrize(("fields", "status", "code", "param"), table_rows())
async def test_each_row_answers_as_documented(
    admin: httpx.AsyncClient, fields: str, status: int, code: str, param: str
) -> None:
    await push(admin, fake_spec(client_params=["n", "max_tokens", "stop", "temperature"]))
    await set_alias(admin, "dev", "support-chat", "support-chat@1")
    body: dict[str, Any] = {
        "model": "support-chat",
        "messages": [{"role": "user", "content": "hi"}],
        "variables": {"customer_name": "Ada"},
        **orjson.loads("{" + fields + "}"),
    }
    answer = await admin.post("/v1/chat/completions", json=body)
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["code"] == code
    assert answer.json()["error"]["param"] == param
    assert "x-pinyard-request-id" in answer.headers
