"""``python -m bench`` (or ``bench/run``): Pinyard against the upstream alone and LiteLLM.

One run starts a fake upstream, measures it directly, then Pinyard (bare, then
with the features a production bundle uses), then with ``--peer litellm`` the
LiteLLM proxy, each on the same core; prints a markdown table and writes it
with the JSON to ``--out``. Every child process is stopped before it returns.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from bench import report
from bench.driver import run_driver
from bench.procs import Processes, cpu_seconds, peak_rss_mb
from bench.stats import Run
from bench.targets import Target, prepare_pinyard, start_pinyard, start_upstream
from bench.wrk import run_wrk, wrk_path

ROOT = Path(__file__).resolve().parent.parent


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__.splitlines()[0])
    parser.add_argument("--peer", choices=["litellm"], help="also measure this gateway")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per run")
    parser.add_argument("--levels", default="1,8,64", help="concurrency levels")
    parser.add_argument("--delay-ms", type=float, default=0.0, help="upstream delay")
    parser.add_argument("--max-requests", type=int, default=200_000, help="cap per run")
    parser.add_argument("--driver", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--no-features", action="store_true", help="skip the features run")
    parser.add_argument(
        "--no-restart",
        action="store_true",
        help="prepare and measure Pinyard in one process (quicker; implies --no-features)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--gateway-cpu", type=int, default=0)
    parser.add_argument("--driver-cpu", type=int, default=1)
    return parser.parse_args(argv)


def _revision() -> str:
    try:
        result = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except OSError:
        return "unknown"
    return result.stdout.strip() or "unknown"


def _machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{model}, {os.cpu_count()} cores, {memory:.0f} GiB, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}"
    )


class Bench:
    def __init__(self, args: argparse.Namespace, procs: Processes) -> None:
        self.args = args
        self.procs = procs
        self.levels = [int(x) for x in args.levels.split(",") if x.strip()]
        use_wrk = args.driver == "wrk" or (args.driver == "auto" and wrk_path() is not None)
        self.driver = "wrk" if use_wrk else "python"
        pin = (os.cpu_count() or 1) >= 2 and shutil.which("taskset") is not None
        self.gateway_cpu = args.gateway_cpu if pin else None
        self.driver_cpu = args.driver_cpu if pin else None

    def load(self, target: Target, scenario: str, concurrency: int, duration_s: float) -> Run:
        body = target.bodies[scenario]
        kwargs: dict[str, Any] = {
            "concurrency": concurrency,
            "duration_s": duration_s,
            "max_requests": self.args.max_requests,
        }
        before = cpu_seconds(target.process.pid)
        # One request at a time the Python driver measures: monotonic clock (wrk's
        # wall clock produced impossible outliers on a VM) and time-to-first-byte.
        if self.driver == "wrk" and concurrency > 1:
            run = run_wrk(target.url, body, cpu=self.driver_cpu, **kwargs)
        else:
            run = self._python(target.url, body, **kwargs)
        after = cpu_seconds(target.process.pid)
        return run.with_cpu(None if before is None or after is None else after - before)

    def _python(self, url: str, body: bytes, **kwargs: Any) -> Run:
        if self.driver_cpu is not None:
            os.sched_setaffinity(0, {self.driver_cpu})
        try:
            return run_driver(url, body, **kwargs)
        finally:
            if self.driver_cpu is not None:
                os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))

    def measure(self, target: Target) -> dict[str, Any]:
        print(f"measuring {target.name}...", file=sys.stderr, flush=True)
        warm = min(1.0, self.args.duration)
        for scenario in ("json", "stream"):
            self.load(target, scenario, 8, warm)
        runs: dict[str, list[dict[str, Any]]] = {}
        for scenario in ("json", "stream"):
            runs[scenario] = [
                self.load(target, scenario, c, self.args.duration).as_dict() for c in self.levels
            ]
        at_one = [r for r in runs["stream"] if r["concurrency"] == 1]
        ttfb = at_one[0] if at_one else self._ttfb(target)
        return {
            "url": target.url,
            "startup_s": target.startup_s,
            "idle_rss_mb": target.idle_rss_mb,
            "peak_rss_mb": peak_rss_mb(target.process.pid),
            "runs": runs,
            "ttfb": ttfb,
            "notes": target.notes,
        }

    def _ttfb(self, target: Target) -> dict[str, Any]:
        """Streaming time-to-first-byte at concurrency 1 when the levels leave it out."""
        duration = min(3.0, self.args.duration)
        run = self._python(
            target.url,
            target.bodies["stream"],
            concurrency=1,
            duration_s=duration,
            max_requests=self.args.max_requests,
        )
        return run.as_dict()

    def run(self, workdir: Path) -> dict[str, Any]:
        args = self.args
        targets: dict[str, Any] = {}
        upstream = start_upstream(
            self.procs, delay_ms=args.delay_ms, cpu=self.gateway_cpu, cwd=ROOT
        )
        targets["upstream"] = self.measure(upstream)
        quick = args.no_restart
        notes = []
        if not quick:
            notes = prepare_pinyard(
                self.procs, workdir, upstream, cpu=self.gateway_cpu, canary=not args.no_features
            )
        for features in (False, True) if not (args.no_features or quick) else (False,):
            target = start_pinyard(
                self.procs, workdir, upstream, cpu=self.gateway_cpu, features=features, push=quick
            )
            if features:
                target.notes += [*notes, *feature_notes()]
            try:
                targets[target.name] = self.measure(target)
            finally:
                self.procs.stop(target.process)
        if args.peer == "litellm":
            from bench.litellm_peer import start_litellm

            peer = start_litellm(self.procs, workdir, upstream, cpu=self.gateway_cpu)
            try:
                targets["litellm"] = self.measure(peer)
            finally:
                self.procs.stop(peer.process)
        return targets


def feature_notes() -> list[str]:
    """What the features run turns on, and what this tree does not have yet."""
    import importlib.util

    notes = ["request records and Prometheus metrics: always on (bare run too)"]
    notes.append("stored payloads (PINYARD_LOG_PAYLOADS): on")
    notes.append("templated prompt + variables schema + fallback chain: on")
    if importlib.util.find_spec("app.guardrails") is not None:
        notes.append("guardrails: input PII redaction, output deny pattern")
    else:
        notes.append("guardrails: not available in this tree (configured, not enforced)")
    return notes


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    loadavg = " ".join(f"{x:.2f}" for x in os.getloadavg())
    with tempfile.TemporaryDirectory(prefix="pinyard-bench-") as tmp:
        workdir = Path(tmp)
        procs = Processes(logs=workdir)
        bench = Bench(args, procs)
        try:
            targets = bench.run(workdir)
        finally:
            procs.stop_all()
            for log in workdir.glob("*.log"):
                (args.out / log.name).write_bytes(log.read_bytes())
    result: dict[str, Any] = {
        "meta": {
            "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": _machine(),
            "revision": _revision(),
            "command": "bench/run " + " ".join(argv if argv is not None else sys.argv[1:]),
            "driver": (
                "wrk 1 thread (concurrency > 1); the bundled Python driver at concurrency 1"
                if bench.driver == "wrk"
                else "the bundled Python driver"
            ),
            "pinning": (
                f"gateway and fake upstream on CPU {bench.gateway_cpu}, "
                f"load driver on CPU {bench.driver_cpu}"
                if bench.gateway_cpu is not None
                else "none (taskset or a second core missing)"
            ),
            "delay_ms": args.delay_ms,
            "duration_s": args.duration,
            "levels": bench.levels,
            "loadavg": loadavg,
            "elapsed_s": round(time.time() - started, 1),
        },
        "targets": targets,
    }
    result["summary"] = report.summarise(result)
    result["checks"] = report.checks(result["summary"])
    text = report.markdown(result)
    (args.out / "latest.json").write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    (args.out / "latest.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
