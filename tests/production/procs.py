"""Real gateway processes (``pinyard serve``) for the production-shape tests.

Each one listens on a free loopback port, logs JSON lines to a file, and is
always stopped by the fixture that made it (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson

ADMIN_TOKEN = "production-test-token-0123456789"
START_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def pinyard_command() -> list[str]:
    """The installed ``pinyard`` script beside this interpreter, else the module."""
    script = shutil.which("pinyard", path=str(Path(sys.executable).parent))
    if script:
        return [script]
    return [sys.executable, "-c", "from app.cli.root import main; main()"]


def base_env(**settings: str) -> dict[str, str]:
    """This process's environment without any ``PINYARD_*``, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PINYARD_")}
    env.update(
        PINYARD_ADMIN_TOKEN=ADMIN_TOKEN,
        PINYARD_LOG_FORMAT="json",
        LITELLM_LOCAL_MODEL_COST_MAP="True",
    )
    env.update(settings)
    return env


def run_pinyard(
    args: list[str], env: dict[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*pinyard_command(), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def wait_until(
    check: Callable[[], bool], timeout_s: float, what: str, step_s: float = 0.05
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(step_s)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


class Gateway:
    """One ``pinyard serve`` process."""

    def __init__(self, name: str, env: dict[str, str], workdir: Path) -> None:
        self.name = name
        self.env = env
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.http = httpx.Client(base_url=self.url, timeout=10.0)
        self.admin = httpx.Client(
            base_url=self.url,
            timeout=10.0,
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}", "x-pinyard-actor": "ops"},
        )

    def start(self, *, wait: str | None = "ready") -> Gateway:
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [*pinyard_command(), "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                env=self.env,
                cwd=self.workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        if wait == "ready":
            self.wait_ready()
        elif wait == "listening":
            wait_until(self._answers, START_TIMEOUT_S, f"{self.name} to listen")
        return self

    def _answers(self) -> bool:
        self._check_alive()
        try:
            self.http.get("/healthz", timeout=1.0)
        except httpx.HTTPError:
            return False
        return True

    def readiness(self) -> tuple[int, dict[str, Any]]:
        response = self.http.get("/readyz", timeout=2.0)
        body: dict[str, Any] = response.json()
        return response.status_code, body

    def wait_ready(self, timeout_s: float = START_TIMEOUT_S) -> None:
        def ready() -> bool:
            if not self._answers():
                return False
            status, body = self.readiness()
            return status == 200 and body["status"] == "ready"

        wait_until(ready, timeout_s, f"{self.name} to be ready")

    def _check_alive(self) -> None:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(
                f"{self.name} exited with {self.process.returncode}:\n{self.log_text()[-3000:]}"
            )

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def log_lines(self) -> list[dict[str, Any]]:
        """The JSON log lines (anything else printed is skipped)."""
        lines = []
        for line in self.log_text().splitlines():
            with contextlib.suppress(orjson.JSONDecodeError):
                parsed = orjson.loads(line)
                if isinstance(parsed, dict):
                    lines.append(parsed)
        return lines

    def terminate(self, timeout_s: float = 30.0) -> int:
        """SIGTERM and wait; SIGKILL if it does not stop in time. The exit code."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        return self.process.returncode

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.terminate(timeout_s=10.0)
        self.http.close()
        self.admin.close()


@contextlib.contextmanager
def gateways(workdir: Path) -> Iterator[Callable[..., Gateway]]:
    """A factory of gateways; every one is stopped on the way out, whatever happened."""
    made: list[Gateway] = []

    def make(name: str, env: dict[str, str], *, wait: str | None = "ready") -> Gateway:
        gateway = Gateway(name, env, workdir)
        made.append(gateway)
        return gateway.start(wait=wait)

    try:
        yield make
    finally:
        for gateway in made:
            gateway.close()


def push_and_alias(gateway: Gateway, spec: dict[str, Any], env: str = "dev") -> dict[str, Any]:
    """Register ``spec`` and point ``env/<name>`` at it; the registration."""
    pushed = gateway.admin.post("/admin/bundles", json=spec)
    assert pushed.status_code in (200, 201), pushed.text
    registered: dict[str, Any] = pushed.json()
    ref = f"{registered['name']}@{registered['version']}"
    flipped = gateway.admin.put(
        f"/admin/environments/{env}/aliases/{spec['name']}",
        json={"bundle": ref, "reason": "production test"},
    )
    assert flipped.status_code == 200, flipped.text
    return registered
