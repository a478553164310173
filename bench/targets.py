"""What a benchmark compares: the upstream alone, Pinyard (bare and with features), LiteLLM.

Each ``start_*`` returns a ``Target``: where to send requests, the body of
each scenario, and the process whose CPU and memory are watched. Pinyard is
prepared in a first run of ``pinyard serve`` (bundles and aliases pushed
through the admin API, as an operator would), stopped, then started again to
time start-up to the first served request on a database that is ready.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from bench import http
from bench.procs import Processes, free_port, rss_mb, wait_until
from bench.upstream import MODEL

ADMIN_TOKEN = "bench-admin-token-0123456789"
PINNED = "openai/gpt-4o-2024-11-20"  # a model LiteLLM serves on its plain OpenAI path
# litellm's map retires PINNED on 2027-01-14: past its warning window Pinyard would add
# deprecation headers to every answer, past that date it would refuse the bundle. The
# benchmark measures the data plane, so its gateways clear those dates (as the tests do).
CALENDAR_NEUTRAL = f"- model: {PINNED}\n  deprecation_date: null\n  shutdown_date: null\n"
USER = [{"role": "user", "content": "Hello! Where is my order 1234? Reach me at ada@example.com."}]
STREAM_EXTRA = {"stream": True, "stream_options": {"include_usage": True}}


@dataclass
class Target:
    name: str
    url: str
    bodies: dict[str, bytes]
    process: subprocess.Popen[bytes]
    startup_s: float | None = None
    idle_rss_mb: float | None = None
    notes: list[str] = field(default_factory=list)


def bodies(model: str, **extra: object) -> dict[str, bytes]:
    base = {"model": model, "messages": USER, "max_tokens": 64, **extra}
    return {"json": orjson.dumps(base), "stream": orjson.dumps({**base, **STREAM_EXTRA})}


def start_upstream(procs: Processes, *, delay_ms: float, cpu: int | None, cwd: Path) -> Target:
    port = free_port()
    command = [sys.executable, "-m", "bench.upstream", "--port", str(port)]
    command += ["--delay-ms", str(delay_ms), "--max-seconds", "7200"]
    process = procs.start("upstream", command, env=dict(os.environ), cpu=cpu, cwd=cwd)
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    body = bodies(MODEL)["json"]
    startup = wait_until(lambda: http.post(url, body)[0] == 200, timeout_s=20, process=process)
    return Target("upstream", url, bodies(MODEL), process, startup, rss_mb(process.pid))


def _serve_command(port: int) -> list[str]:
    pinyard = shutil.which("pinyard") or str(Path(sys.executable).with_name("pinyard"))
    return [pinyard, "serve", "--host", "127.0.0.1", "--port", str(port)]


def _pinyard_env(workdir: Path, upstream: Target, extra: dict[str, str]) -> dict[str, str]:
    deprecations = workdir / "bench-deprecations.yaml"
    deprecations.write_text(CALENDAR_NEUTRAL)
    env = dict(os.environ)
    env.update(
        {
            "PINYARD_DEPRECATIONS_FILE": str(deprecations),
            "PINYARD_DATABASE_URL": f"sqlite:///{workdir}/pinyard.db",
            "PINYARD_ADMIN_TOKEN": ADMIN_TOKEN,
            "PINYARD_ENVIRONMENT": "dev",
            # Access lines are logged at INFO: off in the benchmark.
            "PINYARD_LOG_LEVEL": "warning",
            "OPENAI_API_KEY": "sk-bench-not-a-real-key",
            "OPENAI_BASE_URL": upstream.url.removesuffix("/chat/completions"),
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            **extra,
        }
    )
    return env


def bare_bundle() -> dict[str, object]:
    return {"name": "bench", "model": PINNED, "client_params": ["max_tokens"], "timeout_s": 30}


def features_bundle(revision: int) -> dict[str, object]:
    """What a production bundle uses: a templated prompt, a variables schema, guardrails."""
    return {
        "name": "bench-features",
        "model": PINNED,
        "params": {"temperature": 0.2},
        "client_params": ["max_tokens", "user", "seed"],
        "prompt": {"system": "You help {{ customer_name }} with orders. Be brief."},
        "variables_schema": {
            "type": "object",
            "properties": {"customer_name": {"type": "string", "maxLength": 100}},
            "required": ["customer_name"],
        },
        "guardrails": {
            "input": [{"type": "pii", "action": "redact"}],
            "output": [
                {"type": "deny_pattern", "patterns": ["(?i)internal use only"], "action": "block"}
            ],
        },
        "fallbacks": ["bench@1"],
        "timeout_s": 30,
        "metadata": {"owner": "bench", "revision": revision},
    }


def prepare_pinyard(
    procs: Processes, workdir: Path, upstream: Target, *, cpu: int | None, canary: bool
) -> list[str]:
    """Push the bundles and aliases through the admin API; return notes on what exists."""
    port = free_port()
    env = _pinyard_env(workdir, upstream, {})
    process = procs.start("pinyard-setup", _serve_command(port), env=env, cpu=cpu, cwd=workdir)
    try:
        return push_bundles(f"http://127.0.0.1:{port}", process, env, workdir, canary=canary)
    finally:
        procs.stop(process)


def push_bundles(
    base: str,
    process: subprocess.Popen[bytes],
    env: dict[str, str],
    workdir: Path,
    *,
    canary: bool,
) -> list[str]:
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}", "x-pinyard-actor": "bench"}
    wait_until(lambda: http.get(base + "/healthz")[0] == 200, timeout_s=60, process=process)
    for spec in (bare_bundle(), features_bundle(1), features_bundle(2)):
        status, answer = http.post(base + "/admin/bundles", orjson.dumps(spec), auth)
        if status not in (200, 201):
            raise RuntimeError(f"pushing {spec['name']} failed: {status} {answer[:300]!r}")
    for alias, ref in (("bench", "bench@1"), ("bench-features", "bench-features@1")):
        body = orjson.dumps({"bundle": ref, "reason": "benchmark"})
        status, answer = http.put(f"{base}/admin/environments/dev/aliases/{alias}", body, auth)
        if status != 200:
            raise RuntimeError(f"alias {alias} failed: {status} {answer[:300]!r}")
    return [_start_canary(base, env, workdir)] if canary else []


def _start_canary(base: str, env: dict[str, str], workdir: Path) -> str:
    """A canary at 50 % that stays there for the whole run, through the public CLI."""
    pinyard = _serve_command(0)[0]
    command = [pinyard, "rollout", "start", "dev", "bench-features", "bench-features@2"]
    command += ["--reason", "benchmark canary", "--steps", "50,100", "--shadow-rate", "0"]
    command += ["--min-requests", "1000000", "--min-duration", "86400"]
    result = subprocess.run(
        command,
        env={**env, "PINYARD_URL": base},
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode == 0:
        return "canary rollout: on (50 % to bench-features@2)"
    reason = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
    return f"canary rollout: not available ({reason[0][:160]})"


def start_pinyard(
    procs: Processes,
    workdir: Path,
    upstream: Target,
    *,
    cpu: int | None,
    features: bool,
    push: bool = False,
) -> Target:
    """Start ``pinyard serve`` on a prepared database (``push``: prepare it now, quicker)."""
    port = free_port()
    extra = {"PINYARD_LOG_PAYLOADS": "true"} if features else {}
    env = _pinyard_env(workdir, upstream, extra)
    name = "pinyard-features" if features else "pinyard"
    started = time.perf_counter()
    process = procs.start(name, _serve_command(port), env=env, cpu=cpu, cwd=workdir)
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    notes = []
    if push:
        push_bundles(f"http://127.0.0.1:{port}", process, env, workdir, canary=False)
        notes.append("start-up includes pushing the bundles (--no-restart)")
    if features:
        # No ``user``: without a subject each request draws its canary arm (half and half).
        scenario = bodies("bench-features", variables={"customer_name": "Ada"})
    else:
        scenario = bodies("bench")
    first = scenario["json"]
    wait_until(lambda: http.post(url, first)[0] == 200, timeout_s=60, process=process)
    startup = time.perf_counter() - started
    time.sleep(1.0)
    return Target(name, url, scenario, process, round(startup, 3), rss_mb(process.pid), notes)
