"""The benchmark's results as one JSON document and a markdown report built from it."""

from __future__ import annotations

from typing import Any

# The targets, checked against every run (never asserted in tests).
GOALS = {
    "added_p50_ms": 1.0,
    "added_p99_ms": 3.0,
    "throughput_ratio": 15.0,
    "idle_rss_mb": 150.0,
    "startup_s": 3.0,
    "features_factor": 2.0,
}


def _runs(result: dict[str, Any], target: str, scenario: str) -> list[dict[str, Any]]:
    data = result["targets"].get(target) or {}
    runs: list[dict[str, Any]] = (data.get("runs") or {}).get(scenario) or []
    return runs


def _at(result: dict[str, Any], target: str, scenario: str, c: int) -> dict[str, Any] | None:
    return next((r for r in _runs(result, target, scenario) if r["concurrency"] == c), None)


def _saturated(result: dict[str, Any], target: str, scenario: str) -> float | None:
    runs = _runs(result, target, scenario)
    return max((r["rps"] for r in runs), default=None)


def _minus(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else round(a - b, 3)


def summarise(result: dict[str, Any]) -> dict[str, Any]:
    """Added latency vs direct, throughput ratios, memory and start-up per gateway."""
    summary: dict[str, Any] = {}
    for name, data in result["targets"].items():
        if name == "upstream":
            continue
        row: dict[str, Any] = {
            "startup_s": data.get("startup_s"),
            "idle_rss_mb": data.get("idle_rss_mb"),
            "peak_rss_mb": data.get("peak_rss_mb"),
        }
        for scenario in ("json", "stream"):
            mine, direct = _at(result, name, scenario, 1), _at(result, "upstream", scenario, 1)
            if mine and direct:
                row[f"{scenario}_added_p50_ms"] = _minus(mine["p50_ms"], direct["p50_ms"])
                row[f"{scenario}_added_p99_ms"] = _minus(mine["p99_ms"], direct["p99_ms"])
            row[f"{scenario}_saturated_rps"] = _saturated(result, name, scenario)
            peer = _saturated(result, "litellm", scenario)
            if peer and name != "litellm" and row[f"{scenario}_saturated_rps"]:
                row[f"{scenario}_vs_litellm"] = round(row[f"{scenario}_saturated_rps"] / peer, 1)
        ttfb, direct_ttfb = data.get("ttfb") or {}, result["targets"]["upstream"].get("ttfb") or {}
        row["ttfb_p50_ms"], row["ttfb_p99_ms"] = ttfb.get("ttfb_p50_ms"), ttfb.get("ttfb_p99_ms")
        row["ttfb_added_p50_ms"] = _minus(ttfb.get("ttfb_p50_ms"), direct_ttfb.get("ttfb_p50_ms"))
        row["ttfb_added_p99_ms"] = _minus(ttfb.get("ttfb_p99_ms"), direct_ttfb.get("ttfb_p99_ms"))
        summary[name] = row
    return summary


def checks(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Each goal of the issue with what this run measured (None: not measured)."""
    bare = summary.get("pinyard") or {}
    out: list[dict[str, Any]] = []

    def add(goal: str, value: float | None, limit: float, *, at_least: bool = False) -> None:
        met = None if value is None else (value >= limit if at_least else value <= limit)
        out.append({"goal": goal, "measured": value, "limit": limit, "met": met})

    for key, label in (
        ("json_added_p50_ms", "added p50, non-streaming, c=1 (ms)"),
        ("ttfb_added_p50_ms", "added p50, streaming TTFB, c=1 (ms)"),
    ):
        add(label, bare.get(key), GOALS["added_p50_ms"])
    for key, label in (
        ("json_added_p99_ms", "added p99, non-streaming, c=1 (ms)"),
        ("ttfb_added_p99_ms", "added p99, streaming TTFB, c=1 (ms)"),
    ):
        add(label, bare.get(key), GOALS["added_p99_ms"])
    for scenario in ("json", "stream"):
        add(
            f"saturated throughput vs LiteLLM, {scenario} (x)",
            bare.get(f"{scenario}_vs_litellm"),
            GOALS["throughput_ratio"],
            at_least=True,
        )
    add("idle RSS (MB)", bare.get("idle_rss_mb"), GOALS["idle_rss_mb"])
    add("start-up to first served request (s)", bare.get("startup_s"), GOALS["startup_s"])
    features = summary.get("pinyard-features") or {}
    for key, label in (("json_added_p50_ms", "p50"), ("ttfb_added_p50_ms", "TTFB p50")):
        if bare.get(key) and features.get(key) is not None:
            factor = round(features[key] / bare[key], 2) if bare[key] > 0 else None
            add(f"features overhead / bare overhead, {label} (x)", factor, GOALS["features_factor"])
    return out


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".") if abs(value) < 100 else f"{value:,.0f}"
    return str(value)


def markdown(result: dict[str, Any]) -> str:
    meta = result["meta"]
    lines = [
        f"# Pinyard benchmark ({meta['date']})",
        "",
        f"Machine: {meta['machine']}. Driver: {meta['driver']}. Pinning: {meta['pinning']}.",
        f"Revision {meta.get('revision', '?')}; `{meta.get('command', 'bench/run')}`.",
        f"Upstream delay {meta['delay_ms']:g} ms; {meta['duration_s']:g} s per run; "
        f"load average at start {meta['loadavg']}.",
        "",
        "| target | scenario | concurrency | req/s | p50 ms | p90 ms | p99 ms | errors "
        "| gateway CPU ms/req |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, data in result["targets"].items():
        for scenario, runs in (data.get("runs") or {}).items():
            for run in runs:
                lines.append(
                    f"| {name} | {scenario} | {run['concurrency']} | {_fmt(run['rps'])} "
                    f"| {_fmt(run['p50_ms'])} | {_fmt(run['p90_ms'])} | {_fmt(run['p99_ms'])} "
                    f"| {run['errors']} | {_fmt(run.get('cpu_ms_per_request'))} |"
                )
    lines += [
        "",
        "| gateway | added p50 / p99 ms (c=1) | stream TTFB p50 / p99 ms | added TTFB p50 / p99 "
        "ms | saturated req/s json / stream | vs LiteLLM json / stream | idle / peak RSS MB "
        "| start-up s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, row in result["summary"].items():
        lines.append(
            f"| {name} | {_fmt(row.get('json_added_p50_ms'))} / "
            f"{_fmt(row.get('json_added_p99_ms'))} | {_fmt(row.get('ttfb_p50_ms'))} / "
            f"{_fmt(row.get('ttfb_p99_ms'))} | {_fmt(row.get('ttfb_added_p50_ms'))} / "
            f"{_fmt(row.get('ttfb_added_p99_ms'))} | {_fmt(row.get('json_saturated_rps'))} / "
            f"{_fmt(row.get('stream_saturated_rps'))} | {_fmt(row.get('json_vs_litellm'))} / "
            f"{_fmt(row.get('stream_vs_litellm'))} | {_fmt(row.get('idle_rss_mb'))} / "
            f"{_fmt(row.get('peak_rss_mb'))} | {_fmt(row.get('startup_s'))} |"
        )
    lines += ["", "| goal | limit | measured | met |", "|---|---:|---:|---|"]
    for check in result["checks"]:
        met = {True: "yes", False: "**no**", None: "not measured"}[check["met"]]
        lines.append(
            f"| {check['goal']} | {_fmt(check['limit'])} | {_fmt(check['measured'])} | {met} |"
        )
    notes = [n for data in result["targets"].values() for n in data.get("notes", [])]
    if notes:
        lines += ["", *[f"- {note}" for note in notes]]
    return "\n".join(lines) + "\n"
