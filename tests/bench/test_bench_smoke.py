"""The benchmark runs end to end on a tiny setting: upstream and Pinyard, no LiteLLM peer.

Only the shape of what it writes is checked; timings are never asserted.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_writes_the_table_and_json(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "bench", "--duration", "0.3", "--levels", "1,2"]
    command += ["--driver", "python", "--no-restart", "--out", str(tmp_path)]
    result = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]

    data = json.loads((tmp_path / "latest.json").read_text())
    assert set(data["targets"]) == {"upstream", "pinyard"}
    for target in data["targets"].values():
        assert set(target["runs"]) == {"json", "stream"}
        for runs in target["runs"].values():
            assert [r["concurrency"] for r in runs] == [1, 2]
            for run in runs:
                assert run["requests"] > 0 and run["errors"] == 0
                assert {"rps", "p50_ms", "p90_ms", "p99_ms"} <= set(run)
        assert target["ttfb"]["ttfb_p50_ms"] is not None
    pinyard = data["summary"]["pinyard"]
    for key in ("json_added_p50_ms", "ttfb_added_p99_ms", "idle_rss_mb", "startup_s"):
        assert key in pinyard
    assert {c["goal"] for c in data["checks"]} >= {"idle RSS (MB)"}

    table = (tmp_path / "latest.md").read_text()
    assert table.strip() == result.stdout.strip()
    assert "| target | scenario | concurrency | req/s |" in table
    assert "| pinyard | stream | 2 |" in table
