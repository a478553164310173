"""Run wrk (when it is on PATH) with ``post.lua`` and read its JSON summary line."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

from bench.driver import split_url
from bench.stats import Run

LUA = Path(__file__).with_name("post.lua")
_MARK = "BENCH_JSON "


def wrk_path() -> str | None:
    return shutil.which("wrk")


def run_wrk(
    url: str,
    body: bytes,
    *,
    concurrency: int,
    duration_s: float,
    max_requests: int,
    cpu: int | None,
) -> Run:
    """One wrk thread (the driver gets one core), ``concurrency`` connections."""
    split_url(url)  # refuses anything but loopback
    wrk = wrk_path()
    if wrk is None:
        raise FileNotFoundError("wrk is not on PATH")
    with tempfile.NamedTemporaryFile(suffix=".json") as handle:
        handle.write(body)
        handle.flush()
        command = [
            wrk,
            "-t1",
            f"-c{concurrency}",
            f"-d{max(1, round(duration_s))}s",
            "--timeout",
            "10s",
            "-s",
            str(LUA),
            url,
            "--",
            handle.name,
            str(max_requests),
        ]
        if cpu is not None and shutil.which("taskset"):
            command = ["taskset", "-c", str(cpu), *command]
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=duration_s + 30, check=False
        )
    line = next((x for x in result.stdout.splitlines() if x.startswith(_MARK)), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary: {result.stdout[-500:]} {result.stderr[-500:]}")
    data = json.loads(line[len(_MARK) :])
    elapsed = data["duration_us"] / 1e6
    errors = sum(data[k] for k in ("connect", "read", "write", "status", "timeout"))
    ok = max(0, data["requests"] - data["status"])

    def ms(key: str) -> float | None:
        return round(data[key] / 1000, 3) if ok else None

    return Run(
        tool="wrk",
        concurrency=concurrency,
        requests=ok,
        errors=errors,
        duration_s=round(elapsed, 3),
        rps=round(ok / elapsed, 1) if elapsed > 0 else 0.0,
        p50_ms=ms("p50_us"),
        p90_ms=ms("p90_us"),
        p99_ms=ms("p99_us"),
        mean_ms=ms("mean_us"),
    )
