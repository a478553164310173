"""``pinyard requests``: the lineage of one answer.

Given the ``x-pinyard-request-id`` of a response, show which environment,
alias, bundle version and provider model produced it, with what inputs digest,
tokens and latency.
"""

from __future__ import annotations

from typing import Annotated

import typer

from app.cli.admin_client import AdminClient, path
from app.cli.output import JsonFlag, print_json, table

# Lineage first (what produced the answer), then outcome and cost, then payloads.
FIELD_ORDER = (
    "id", "created_at", "environment", "alias", "bundle_name", "bundle_version",
    "bundle_digest", "route", "fallback_index", "routed_digest", "provider_model", "endpoint",
    "stream", "status", "error",
    "latency_ms", "ttft_ms", "prompt_tokens", "completion_tokens", "total_tokens", "cost_usd",
    "input_digest", "ignored_params", "attempts", "request_body", "response_body",
)  # fmt: skip

app = typer.Typer(help="Request records: which version produced an answer.", no_args_is_help=True)


@app.command()
def show(
    request_id: Annotated[
        str, typer.Argument(metavar="REQUEST_ID", help="The x-pinyard-request-id header.")
    ],
    as_json: JsonFlag = False,
) -> None:
    """Every field of one request record."""
    with AdminClient() as api:
        record = api.get(path("admin", "requests", request_id))
    if as_json:
        print_json(record)
        return
    rank = {name: i for i, name in enumerate(FIELD_ORDER)}
    rows = sorted(record.items(), key=lambda item: rank.get(item[0], len(rank)))
    table(None, ["field", "value"], rows)
