"""Server processes the bench starts, and what it reads of them: CPU time and resident memory.

CPU time is the process's own (user + system, from /proc through psutil), read before and after
a round, plus that of any child it started (LiteLLM's CLI may fork).  Output goes to files in the
run's folder, never to a pipe nobody reads.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import psutil

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    def __init__(self, name: str, command: Sequence[str], env: Mapping[str, str], logs: Path,
                 cwd: Path | None = None) -> None:
        self.name = name
        self.command = list(command)
        self.log_path = logs / f"{name}.log"
        with open(self.log_path, "wb") as log:
            self.popen = subprocess.Popen(self.command, env=dict(env), stdout=log, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, cwd=cwd)
        self.process = psutil.Process(self.popen.pid)

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text("utf-8", "replace")
        return "\n".join(text.splitlines()[-lines:])

    def wait_port(self, port: int, timeout: float) -> None:
        """Until ``port`` accepts connections; raises with the log's tail if the process dies first."""
        deadline = time.monotonic() + timeout
        while True:
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.popen.returncode}:\n{self.log_tail()}")
            with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.5):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not listen on {port} within {timeout} s:\n{self.log_tail()}")
            time.sleep(0.05)

    def _family(self) -> list[psutil.Process]:
        procs = [self.process]
        with contextlib.suppress(psutil.Error):
            procs += self.process.children(recursive=True)
        return procs

    def cpu_seconds(self) -> float:
        total = 0.0
        for proc in self._family():
            with contextlib.suppress(psutil.Error):
                times = proc.cpu_times()
                total += times.user + times.system
        return total

    def rss_bytes(self) -> int:
        total = 0
        for proc in self._family():
            with contextlib.suppress(psutil.Error):
                total += proc.memory_info().rss
        return total

    def num_fds(self) -> int:
        """Open file descriptors of the process and its children (nginx's worker holds the sockets)."""
        total = 0
        for proc in self._family():
            with contextlib.suppress(psutil.Error):
                total += proc.num_fds()
        return total

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
