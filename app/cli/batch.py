"""``pinyard batch``: score a JSONL file through an alias, and look after batches.

``run`` uploads the file, creates a batch (pinned to what the alias serves now),
shows a progress bar until it ends and writes every line's result, in input
order, to ``--out``. It is resumable: the batch is tagged with the file's
sha256, so running the same command again (after Ctrl-C, or on another
machine) follows the batch already running instead of starting a second one.

These commands use the data plane (``/v1/files``, ``/v1/batches``) with the API
key in ``PINYARD_API_KEY`` (none in local mode); ``--env`` must be the key's
environment. Exit codes: 0 every line answered, 1 some lines failed (or the
batch was cancelled or expired), 2 bad input, 3 the gateway unreachable.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from app.cli.admin_client import AdminClient, DataPlaneClient, path
from app.cli.output import EXIT_GATE, JsonFlag, console, fail, fields, print_json, table

app = typer.Typer(help="Batches: score a JSONL file through an alias.", no_args_is_help=True)

CHAT_URL = "/v1/chat/completions"
ENDED = ("completed", "failed", "expired", "cancelled")
# Batches looked through for one to resume.
RESUME_SCAN = 100
SHA_KEY, ALIAS_KEY = "pinyard_input_sha256", "pinyard_alias"

EnvOption = Annotated[
    str | None,
    typer.Option("--env", "-e", help="The environment (must be PINYARD_API_KEY's)."),
]


def prepare_input(content: bytes, alias: str) -> bytes:
    """Fill in ``body.model`` where a line leaves it out; refuse lines naming another model.

    Lines that are not JSON objects are passed on untouched: the gateway names them.
    """
    out: list[bytes] = []
    others: list[str] = []
    for number, raw in enumerate(content.splitlines(), start=1):
        try:
            item = json.loads(raw) if raw.strip() else None
        except ValueError:
            item = None
        body = item.get("body") if isinstance(item, dict) else None
        if not isinstance(body, dict):
            out.append(raw)
            continue
        model = body.setdefault("model", alias)
        if model != alias:
            others.append(f"line {number}: model {model!r}")
        out.append(json.dumps(item, ensure_ascii=False).encode())
    if others:
        shown = "; ".join(others[:20]) + (
            f"; and {len(others) - 20} more" if len(others) > 20 else ""
        )
        fail(f"lines name another model than --alias {alias!r}: {shown}")
    return b"\n".join(out) + b"\n"


@app.command()
def run(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="JSONL in the OpenAI Batch shape.")],
    alias: Annotated[str, typer.Option("--alias", "-a", help="The alias every line runs on.")],
    env: EnvOption = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write each line's result here (JSONL).")
    ] = None,
    endpoint: Annotated[
        str, typer.Option(help="What the lines call: /v1/chat/completions or /v1/embeddings.")
    ] = CHAT_URL,
    new: Annotated[
        bool, typer.Option("--new", help="Start a new batch even if this file has one.")
    ] = False,
    poll: Annotated[float, typer.Option(help="Seconds between progress checks.", min=0.05)] = 1.0,
    as_json: JsonFlag = False,
) -> None:
    """Upload FILE, run it as one batch pinned to ALIAS, follow it, write the results."""
    try:
        content = prepare_input(file.read_bytes(), alias)
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror or exc}")
    sha = hashlib.sha256(content).hexdigest()
    with DataPlaneClient(env) as api:
        batch = None if new else _resumable(api, sha, alias)
        if batch is not None:
            console(stderr=True).print(f"resuming {batch['id']} ({batch['status']})")
        else:
            uploaded = api.request(
                "POST",
                "/v1/files",
                files={"file": (file.name, content, "application/jsonl")},
                data={"purpose": "batch"},
            )
            batch = api.post(
                "/v1/batches",
                {
                    "input_file_id": uploaded["id"],
                    "endpoint": endpoint,
                    "completion_window": "24h",
                    "metadata": {SHA_KEY: sha, ALIAS_KEY: alias},
                },
            )
        try:
            batch = _follow(api, batch, poll)
        except KeyboardInterrupt:
            fail(
                f"stopped watching; {batch['id']} goes on in the gateway: run the same "
                "command again to resume, or `pinyard batch cancel` it",
                130,
            )
        if out is not None:
            _write_results(api, batch, content, out)
    counts = batch["request_counts"]
    if as_json:
        print_json(batch)
    else:
        pinned = batch.get("pinyard") or {}
        fields(
            [
                ("batch", batch["id"]),
                ("status", batch["status"]),
                ("bundle", f"{pinned.get('bundle')} ({pinned.get('bundle_digest')})"),
                ("completed", f"{counts['completed']} of {counts['total']}"),
                ("failed", counts["failed"]),
                ("results", str(out) if out is not None else "-"),
            ]
        )
    if counts["failed"] or batch["status"] != "completed":
        raise typer.Exit(EXIT_GATE)


def _resumable(api: AdminClient, sha: str, alias: str) -> dict[str, Any] | None:
    page = api.get("/v1/batches", params={"limit": RESUME_SCAN})
    for batch in page.get("data", []):
        labels = batch.get("metadata") or {}
        if labels.get(SHA_KEY) == sha and labels.get(ALIAS_KEY) == alias:
            if batch["status"] in ("failed", "cancelled", "expired"):
                return None  # ended without finishing: start again
            return dict(batch)
    return None


def _follow(api: AdminClient, batch: dict[str, Any], poll: float) -> dict[str, Any]:
    """Poll until the batch ends, with a bar: done, failed, rows per second, ETA."""
    counts = batch["request_counts"]
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("failed {task.fields[failed]}"),
        TextColumn("{task.fields[rate]:.1f} rows/s"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console(stderr=True),
    )
    started, first_done = time.monotonic(), counts["completed"] + counts["failed"]
    with progress:
        task = progress.add_task(batch["id"], total=counts["total"], failed=0, rate=0.0)
        while True:
            counts = batch["request_counts"]
            done = counts["completed"] + counts["failed"]
            elapsed = max(time.monotonic() - started, 1e-9)
            progress.update(
                task,
                completed=done,
                failed=counts["failed"],
                rate=(done - first_done) / elapsed,
                description=f"{batch['id']} {batch['status']}",
            )
            if batch["status"] in ENDED:
                return batch
            time.sleep(poll)
            batch = api.get(path("v1", "batches", batch["id"]))


def _write_results(api: AdminClient, batch: dict[str, Any], content: bytes, out: Path) -> None:
    """Output and error lines merged back into the input's order (by ``custom_id``)."""
    by_id: dict[str, bytes] = {}
    for key in ("output_file_id", "error_file_id"):
        if batch.get(key):
            raw = api.request("GET", path("v1", "files", batch[key], "content"), raw=True)
            for line in raw.splitlines():
                if line.strip():
                    by_id[json.loads(line)["custom_id"]] = line
    order = []
    for raw in content.splitlines():
        try:
            custom_id = json.loads(raw).get("custom_id")
        except (ValueError, AttributeError):
            continue
        if custom_id in by_id:
            order.append(by_id.pop(custom_id))
    try:
        out.write_bytes(b"".join(line + b"\n" for line in order))
    except OSError as exc:
        fail(f"cannot write {out}: {exc.strerror or exc}")


@app.command("list")
def list_batches(
    env: EnvOption = None,
    limit: Annotated[int, typer.Option(min=1, max=100, help="How many, newest first.")] = 20,
    as_json: JsonFlag = False,
) -> None:
    """The environment's batches, newest first."""
    with DataPlaneClient(env) as api:
        page = api.get("/v1/batches", params={"limit": limit})
    if as_json:
        print_json(page)
        return
    table(
        None,
        ["batch", "status", "alias", "bundle", "completed", "failed", "total", "created"],
        [
            (
                b["id"],
                b["status"],
                (b.get("pinyard") or {}).get("alias"),
                (b.get("pinyard") or {}).get("bundle"),
                b["request_counts"]["completed"],
                b["request_counts"]["failed"],
                b["request_counts"]["total"],
                time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(b["created_at"])),
            )
            for b in page.get("data", [])
        ],
    )


@app.command()
def show(
    batch_id: Annotated[str, typer.Argument(metavar="BATCH_ID")],
    env: EnvOption = None,
    as_json: JsonFlag = False,
) -> None:
    """One batch: status, pinned bundle, counts, files."""
    with DataPlaneClient(env) as api:
        batch = api.get(path("v1", "batches", batch_id))
    if as_json:
        print_json(batch)
        return
    pinned = batch.get("pinyard") or {}
    counts = batch["request_counts"]
    fields(
        [
            ("batch", batch["id"]),
            ("status", batch["status"]),
            ("environment", pinned.get("environment")),
            ("alias", pinned.get("alias")),
            ("bundle", pinned.get("bundle")),
            ("digest", pinned.get("bundle_digest")),
            ("endpoint", batch["endpoint"]),
            (
                "requests",
                f"{counts['completed']} completed, {counts['failed']} failed of {counts['total']}",
            ),
            ("input file", batch["input_file_id"]),
            ("output file", batch.get("output_file_id")),
            ("error file", batch.get("error_file_id")),
        ]
    )


@app.command()
def cancel(
    batch_id: Annotated[str, typer.Argument(metavar="BATCH_ID")],
    env: EnvOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Stop starting the batch's lines (those in flight finish)."""
    with DataPlaneClient(env) as api:
        batch = api.post(path("v1", "batches", batch_id, "cancel"))
    if as_json:
        print_json(batch)
        return
    console().print(f"{batch['id']} {batch['status']}")
