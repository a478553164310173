"""Child processes of a benchmark: start (pinned to a core), watch (RSS, CPU), stop.

Everything started here is a child of the benchmark and is stopped in a
``finally`` by ``Processes.stop_all``; nothing is left running.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def pinned(command: list[str], cpu: int | None) -> list[str]:
    if cpu is None or shutil.which("taskset") is None:
        return command
    return ["taskset", "-c", str(cpu), *command]


def tree(pid: int) -> list[int]:
    """``pid`` and its descendants (a gateway may fork workers)."""
    found = [pid]
    for current in found:
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                found.extend(int(x) for x in task.read_text().split())
    return found


def _status_kb(pid: int, field_name: str) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    return 0


def rss_mb(pid: int) -> float:
    return round(sum(_status_kb(p, "VmRSS") for p in tree(pid)) / 1024, 1)


def peak_rss_mb(pid: int) -> float:
    return round(sum(_status_kb(p, "VmHWM") for p in tree(pid)) / 1024, 1)


def cpu_seconds(pid: int) -> float | None:
    total = 0
    for p in tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / _TICKS if total else None


@dataclass
class Processes:
    """The children of one benchmark run."""

    logs: Path
    children: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(
        self, name: str, command: list[str], *, env: dict[str, str], cpu: int | None, cwd: Path
    ) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("ab")
        process = subprocess.Popen(
            pinned(command, cpu),
            env=env,
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.children.append(process)
        return process

    def stop(self, process: subprocess.Popen[bytes], timeout_s: float = 15.0) -> None:
        """SIGTERM (a clean stop flushes records), then SIGKILL if it lingers."""
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)
        if process in self.children:
            self.children.remove(process)

    def stop_all(self) -> None:
        for process in list(reversed(self.children)):
            self.stop(process, timeout_s=5.0)


def wait_until(
    check: Callable[[], bool], *, timeout_s: float, process: subprocess.Popen[bytes]
) -> float:
    """Seconds until ``check()`` holds; raises if the process dies or time runs out."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout_s:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before it was ready")
        if check():
            return time.perf_counter() - started
        time.sleep(0.02)
    raise TimeoutError(f"not ready within {timeout_s:g} s")
