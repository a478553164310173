"""``python -m bench.batches``: rows per second of one batch, and the gateway's cost per row.

Starts the fake upstream with a fixed delay (200 ms: a model's latency), then
``pinyard serve`` with the batch worker at the given concurrency, pushes a bare
bundle on that upstream, uploads ``--rows`` lines through ``POST /v1/files``,
creates the batch and polls it to its end. Reports:

- rows/s from ``in_progress_at`` to ``completed_at`` (the server's own clock), and
  the share of the ideal ``concurrency / delay`` it reached;
- overhead per row: each line's request-record latency minus the upstream delay
  (what the gateway adds around the model call: pipeline, record, lineage), p50/p99;
- gateway CPU per row: the CPU the serving process used during the batch / rows.

Every child process is stopped before it returns.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.procs import Processes, cpu_seconds, free_port, wait_until
from bench.targets import (
    ADMIN_TOKEN,
    USER,
    _pinyard_env,
    _serve_command,
    bare_bundle,
    start_upstream,
)

ROOT = Path(__file__).resolve().parent.parent


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.batches", description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--delay-ms", type=float, default=200.0, help="upstream delay")
    parser.add_argument("--concurrency", type=int, default=64, help="lines in flight")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--timeout-s", type=float, default=1800.0)
    return parser.parse_args(argv)


def _input(rows: int) -> bytes:
    lines = []
    for i in range(rows):
        body = {"model": "bench", "messages": USER, "max_tokens": 64}
        line = {"custom_id": f"row-{i}", "method": "POST", "url": "/v1/chat/completions"}
        lines.append(orjson.dumps({**line, "body": body}))
    return b"\n".join(lines) + b"\n"


def _prepare(base: str) -> None:
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with httpx.Client(base_url=base, headers=auth, timeout=30) as admin:
        admin.post("/admin/bundles", json=bare_bundle()).raise_for_status()
        alias = {"bundle": "bench@1", "reason": "batch benchmark"}
        admin.put("/admin/environments/dev/aliases/bench", json=alias).raise_for_status()


def _run_batch(base: str, content: bytes, timeout_s: float, pid: int) -> dict[str, Any]:
    with httpx.Client(base_url=base, timeout=120) as client:
        files = {"file": ("bench.jsonl", content, "application/jsonl")}
        uploaded = client.post("/v1/files", files=files, data={"purpose": "batch"})
        uploaded.raise_for_status()
        body = {
            "input_file_id": uploaded.json()["id"],
            "endpoint": "/v1/chat/completions",
            "completion_window": "24h",
        }
        cpu_before = cpu_seconds(pid) or 0.0
        created = client.post("/v1/batches", json=body)
        created.raise_for_status()
        batch = created.json()
        deadline = time.monotonic() + timeout_s
        while batch["status"] not in ("completed", "failed", "expired", "cancelled"):
            if time.monotonic() > deadline:
                raise TimeoutError(f"batch still {batch['status']} after {timeout_s:g} s")
            time.sleep(0.5)
            batch = client.get(f"/v1/batches/{batch['id']}").json()
        batch["cpu_s"] = (cpu_seconds(pid) or 0.0) - cpu_before
        return dict(batch)


def _latencies(db: Path) -> list[float]:
    with sqlite3.connect(db) as connection:
        rows = connection.execute(
            "SELECT latency_ms FROM request_records WHERE route = 'batch' AND status = 200"
        ).fetchall()
    return sorted(float(latency) for (latency,) in rows)


def _running_seconds(db: Path, batch_id: str) -> float:
    """From in_progress to completed, at the stored times' full precision."""
    with sqlite3.connect(db) as connection:
        started, ended = connection.execute(
            "SELECT in_progress_at, completed_at FROM batches WHERE id = ?", (batch_id,)
        ).fetchone()
    parse = datetime.datetime.fromisoformat
    return (parse(ended) - parse(started)).total_seconds()


def _percentile(values: list[float], share: float) -> float:
    return values[min(len(values) - 1, round(share * (len(values) - 1)))]


def measure(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="pinyard-bench-batches-"))
    procs = Processes(logs=workdir)
    try:
        upstream = start_upstream(procs, delay_ms=args.delay_ms, cpu=None, cwd=ROOT)
        port = free_port()
        env = _pinyard_env(
            workdir,
            upstream,
            {
                "PINYARD_BATCH_CONCURRENCY": str(args.concurrency),
                "PINYARD_BATCH_PROVIDER_CONCURRENCY": str(args.concurrency),
                "PINYARD_BATCH_POLL_INTERVAL_S": "0.2",
            },
        )
        gateway = procs.start("pinyard", _serve_command(port), env=env, cpu=None, cwd=workdir)
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: _healthy(base), timeout_s=60, process=gateway)
        _prepare(base)
        batch = _run_batch(base, _input(args.rows), args.timeout_s, gateway.pid)
        procs.stop(gateway)  # a clean stop writes the last records
        latencies = _latencies(workdir / "pinyard.db")
        seconds = _running_seconds(workdir / "pinyard.db", batch["id"])
    finally:
        procs.stop_all()
    counts = batch["request_counts"]
    rate = counts["completed"] / seconds if seconds > 0 else 0.0
    ideal = args.concurrency / (args.delay_ms / 1000)
    overhead = [latency - args.delay_ms for latency in latencies]
    return {
        "when": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}",
        "rows": args.rows,
        "delay_ms": args.delay_ms,
        "concurrency": args.concurrency,
        "status": batch["status"],
        "completed": counts["completed"],
        "failed": counts["failed"],
        "seconds": round(seconds, 2),
        "rows_per_s": round(rate, 1),
        "ideal_rows_per_s": round(ideal, 1),
        "efficiency": round(rate / ideal, 3) if ideal else None,
        "records": len(latencies),
        "overhead_p50_ms": round(_percentile(overhead, 0.5), 2) if overhead else None,
        "overhead_p99_ms": round(_percentile(overhead, 0.99), 2) if overhead else None,
        "overhead_mean_ms": round(statistics.fmean(overhead), 2) if overhead else None,
        "cpu_ms_per_row": round(batch["cpu_s"] * 1000 / max(counts["completed"], 1), 3),
        "workdir": str(workdir),
    }


def _healthy(base: str) -> bool:
    try:
        return httpx.get(base + "/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def table(result: dict[str, Any]) -> str:
    return "\n".join(
        [
            f"Batch benchmark, {result['when']} ({result['machine']})",
            "",
            "| rows | upstream delay | concurrency | status | seconds | rows/s | ideal rows/s "
            "| efficiency | overhead p50 | overhead p99 | CPU per row |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
            f"| {result['rows']} | {result['delay_ms']:g} ms | {result['concurrency']} "
            f"| {result['status']} ({result['completed']} ok, {result['failed']} failed) "
            f"| {result['seconds']} | {result['rows_per_s']} | {result['ideal_rows_per_s']} "
            f"| {result['efficiency']} | {result['overhead_p50_ms']} ms "
            f"| {result['overhead_p99_ms']} ms | {result['cpu_ms_per_row']} ms |",
        ]
    )


def main(argv: list[str] | None = None) -> None:
    args = _args(argv)
    result = measure(args)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "batches.json").write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    text = table(result)
    (args.out / "batches.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
