"""The batch benchmark runs end to end on a tiny setting; only its shape is checked."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_batches_writes_its_table_and_json(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "bench.batches", "--rows", "40", "--delay-ms", "5"]
    command += ["--concurrency", "4", "--out", str(tmp_path)]
    result = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=180, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    data = json.loads((tmp_path / "batches.json").read_text())
    assert data["status"] == "completed" and data["completed"] == 40 and data["failed"] == 0
    assert data["records"] == 40  # one request record per line
    assert data["rows_per_s"] > 0 and data["ideal_rows_per_s"] == 800.0
    for key in ("overhead_p50_ms", "overhead_p99_ms", "cpu_ms_per_row", "efficiency"):
        assert data[key] is not None
    table = (tmp_path / "batches.md").read_text()
    assert table.strip() == result.stdout.strip()
    assert "| rows | upstream delay | concurrency |" in table
