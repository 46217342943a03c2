"""Real `deskpilot serve` processes for fault tests: on a free port, killed with SIGKILL, restarted."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(process: subprocess.Popen[bytes], url: str, timeout_s: float, name: str) -> bool:
    """True once `url` answers 200; raises if the process exits first; False when time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    return False


class ServeProcess:
    """`deskpilot serve` in its own process, with the environment a test gives it."""

    def __init__(self, env: dict[str, str], *, port: int | None = None, log: Path | None = None) -> None:
        self.port = port or free_port()
        self.env = {**os.environ, **env, "DESKPILOT_PORT": str(self.port), "DESKPILOT_HOST": "127.0.0.1"}
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 60.0) -> ServeProcess:
        out: Any = open(self.log, "ab") if self.log else subprocess.DEVNULL  # noqa: SIM115 - lives with the process
        self.process = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve"], env=self.env, cwd=REPO, stdout=out, stderr=out
        )
        if wait_ready(self.process, f"{self.base_url}/healthz", timeout_s, f"serve (log: {self.log})"):
            return self
        self.kill()
        raise TimeoutError("deskpilot serve did not become ready")

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, nothing is flushed, as when the machine loses power."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def __enter__(self) -> ServeProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class WorkerProcess:
    """`deskpilot worker` in its own process; ready once its log says it consumes (or after `start`)."""

    def __init__(self, env: dict[str, str], *, log: Path | None = None) -> None:
        self.env = {**os.environ, **env}
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        out: Any = open(self.log, "ab") if self.log else subprocess.DEVNULL  # noqa: SIM115 - lives with the process
        self.process = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "worker"], env=self.env, cwd=REPO, stdout=out, stderr=out
        )
        return self

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


class ChromaServer:
    """A `chroma run` server on a free loopback port, with its data in `path`."""

    def __init__(self, path: Path, *, port: int | None = None) -> None:
        self.path = path
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @staticmethod
    def available() -> bool:
        return (Path(sys.executable).parent / "chroma").exists()

    def start(self, timeout_s: float = 60.0) -> ChromaServer:
        chroma = Path(sys.executable).parent / "chroma"
        self.process = subprocess.Popen(
            [str(chroma), "run", "--path", str(self.path), "--host", "127.0.0.1", "--port", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if wait_ready(self.process, f"{self.url}/api/v2/heartbeat", timeout_s, "chroma run"):
            return self
        self.stop()
        raise TimeoutError("chroma run did not become ready")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
