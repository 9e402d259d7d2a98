"""A server the tests run as a subprocess on a loopback port (scim2-server,
oidc-provider-mock): started on a free port and waited for, moved to another port if another
process took that one meanwhile, stopped, and its log at hand for the error that says why."""

import os
import socket
import subprocess
import time
from pathlib import Path

import requests


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LoopbackProcess:
    name = "server"            # for the errors
    executable: Path           # the venv's console script
    ready_path = "/"           # answers 2xx once the server is up

    def __init__(self, *, log_path: Path, port: int | None = None):
        self.log_path = log_path
        self.port = port or free_port()
        self.fixed_port = port is not None
        self.process: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self, timeout: float = 15.0) -> None:
        """Start, and wait until it answers. The first start of a server given no port
        moves to another free port if another process took this one meanwhile."""
        if not self.executable.exists():
            raise RuntimeError(f"{self.executable} is missing: install {self.name} in the venv.")
        for _ in range(3):
            if self._start(timeout):
                self.fixed_port = True  # a restart comes back where its clients look
                return
            self.port = free_port()
        raise RuntimeError(f"{self.name} found no free port:\n{self._log()}")

    def _log(self) -> str:
        return self.log_path.read_text()[-2000:] if self.log_path.exists() else ""

    def _start(self, timeout: float) -> bool:
        log = self.log_path.open("a")
        self.process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                        env={**os.environ, "NO_COLOR": "1"})
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.process = None
                if not self.fixed_port and "address already in use" in self._log().lower():
                    return False
                raise RuntimeError(f"{self.name} stopped at start:\n{self._log()}")
            try:
                if requests.get(f"{self.base_url}{self.ready_path}", timeout=1).ok:
                    return True
            except requests.ConnectionError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer on port {self.port} within "
                           f"{timeout} s:\n{self._log()}")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None
