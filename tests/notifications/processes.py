"""Real processes for the delivery tests: a private Redis server and a Celery worker.

Each is started in its own session, so stopping it ends the process and its children
(a prefork worker's pool) and nothing else; both are always stopped, even when a test fails.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import redis

BASE_DIR = Path(__file__).resolve().parents[2]


def _end(process: subprocess.Popen, sig: int, timeout: float) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


class RedisServer:
    """``redis-server`` on ``port`` with no persistence; ``stop()`` and ``start()`` again to simulate an outage."""

    def __init__(self, port: int, workdir: Path) -> None:
        self.port, self.workdir = port, workdir
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "RedisServer":
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if redis.Redis(port=self.port, socket_connect_timeout=0.2).ping():
                    return self
            except redis.ConnectionError:
                time.sleep(0.05)
        raise AssertionError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        if self.process is not None:
            _end(self.process, signal.SIGTERM, timeout=10)
            self.process = None


class CeleryWorker:
    """``celery -A config worker`` with ``env``; its log goes to ``log_path`` (shown when it fails to start)."""

    count = 0

    def __init__(self, env: dict[str, str], log_path: Path, concurrency: int = 2, pool: str = "prefork") -> None:
        self.env, self.log_path, self.concurrency, self.pool = env, log_path, concurrency, pool
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> "CeleryWorker":
        CeleryWorker.count += 1
        self._log = open(self.log_path, "ab")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-P", self.pool, "-c", str(self.concurrency),
             "-l", "info", "--without-gossip", "--without-mingle", "--without-heartbeat",
             "-n", f"notifytest{CeleryWorker.count}@%h"],
            cwd=BASE_DIR, env=self.env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        marker = f"notifytest{CeleryWorker.count}@".encode()
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the worker exited:\n{self.log()}")
            if any(marker in line and b" ready." in line for line in self.log_path.read_bytes().splitlines()):
                return self
            time.sleep(0.1)
        self.stop()
        raise AssertionError(f"the worker did not get ready in {timeout}s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:]

    def kill(self) -> None:
        """SIGKILL the worker and its pool at once, as the OOM killer or a power cut would."""
        if self.process is not None:
            _end(self.process, signal.SIGKILL, timeout=10)
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            _end(self.process, signal.SIGTERM, timeout=15)
            self.process = None
        if getattr(self, "_log", None):
            self._log.close()
            self._log = None
