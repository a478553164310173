"""The LiteLLM proxy as a peer: its own throw-away venv, one model on the fake upstream, no DB.

Installed from the package registry with pip into ``/tmp/bench-litellm-venv``
(never the project's venv) and reused while its version matches. Configured
like Pinyard's bare scenario: one model name pointing at the fake upstream,
no master key, no database, no retries, one worker.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

from bench import http
from bench.procs import Processes, free_port, rss_mb, wait_until
from bench.targets import PINNED, Target, bodies

VENV = Path("/tmp/bench-litellm-venv")
REQUIREMENT = "litellm[proxy]==1.106.*"
_MARKER = ".bench-requirement"


def ensure_venv(venv: Path = VENV) -> Path:
    """The venv's ``litellm`` executable, installing it first when needed (minutes)."""
    executable = venv / "bin" / "litellm"
    marker = venv / _MARKER
    if executable.exists() and marker.exists() and marker.read_text() == REQUIREMENT:
        return executable
    print(f"installing {REQUIREMENT} into {venv} (first run only)...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True, timeout=300)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True, timeout=600)
    subprocess.run([*pip, REQUIREMENT], check=True, timeout=1800)
    marker.write_text(REQUIREMENT)
    return executable


def start_litellm(procs: Processes, workdir: Path, upstream: Target, *, cpu: int | None) -> Target:
    executable = ensure_venv()
    port = free_port()
    config = workdir / "litellm-config.yaml"
    api_base = upstream.url.removesuffix("/chat/completions")
    config.write_text(
        yaml.safe_dump(
            {
                "model_list": [
                    {
                        "model_name": "bench",
                        "litellm_params": {
                            "model": PINNED,
                            "api_base": api_base,
                            "api_key": "sk-bench-not-a-real-key",
                        },
                    }
                ],
                "litellm_settings": {"num_retries": 0, "request_timeout": 30},
            }
        )
    )
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_URL", "LITELLM_", "OPENAI_"))
    }
    env.update(
        {
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "LITELLM_LOG": "ERROR",
            # No master key, as in Pinyard's local mode (loopback only).
            "LITELLM_DANGEROUSLY_PERMIT_WEAK_OR_UNSET_MASTER_KEY": "true",
        }
    )
    command = [str(executable), "--config", str(config), "--host", "127.0.0.1"]
    command += ["--port", str(port), "--num_workers", "1"]
    started = time.perf_counter()
    process = procs.start("litellm", command, env=env, cpu=cpu, cwd=workdir)
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    scenario = bodies("bench")
    first = scenario["json"]
    wait_until(lambda: http.post(url, first)[0] == 200, timeout_s=180, process=process)
    startup = time.perf_counter() - started
    time.sleep(1.0)
    target = Target("litellm", url, scenario, process, round(startup, 3), rss_mb(process.pid))
    target.notes.append(f"LiteLLM proxy {_version(executable)}: one worker, no database")
    return target


def _version(executable: Path) -> str:
    python = executable.with_name("python")
    code = "import importlib.metadata as m; print(m.version('litellm'))"
    result = subprocess.run(
        [str(python), "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    return result.stdout.strip() or "(unknown version)"
