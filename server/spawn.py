"""Start ``python -m server`` as a child process and wait for its ``ready:`` line.

Used by the tests' ``triton_server`` fixture and by ``bench/served_vs_plain.py``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from server.errors import ServerStartError

logger = logging.getLogger(__name__)


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """Ports the kernel reports free right now (all held open together, so distinct)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((host, 0))
            sockets.append(sock)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


@dataclass
class RunningServer:
    process: subprocess.Popen[str]
    host: str
    grpc_port: int
    http_port: int
    metrics_port: int
    ready_line: str
    stderr_lines: list[str] = field(default_factory=list)

    @property
    def grpc_url(self) -> str:
        return f"{self.host}:{self.grpc_port}"

    @property
    def http_url(self) -> str:
        return f"{self.host}:{self.http_port}"

    @property
    def metrics_url(self) -> str:
        return f"{self.host}:{self.metrics_port}"

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM ``python -m server`` (which stops Triton and its stubs) and wait."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        return self.process.returncode


def _drain(stream: object, sink: queue.Queue[str | None], keep: list[str] | None) -> None:
    for line in stream:  # type: ignore[attr-defined]
        if keep is not None:
            keep.append(line.rstrip("\n"))
        sink.put(line)
    sink.put(None)


def start(
    extra_args: Sequence[str] = (),
    timeout: float = 120.0,
    host: str = "127.0.0.1",
    env: dict[str, str] | None = None,
    ports: tuple[int, int, int] | None = None,
) -> RunningServer:
    """Run ``python -m server`` on ``ports`` (grpc, http, metrics; default: free ones);
    return once it printed ``ready:``."""
    grpc, http, metrics = ports or free_ports(3, host)
    command = [
        sys.executable, "-m", "server",
        "--host", host,
        "--grpc-port", str(grpc),
        "--http-port", str(http),
        "--metrics-port", str(metrics),
        *extra_args,
    ]  # fmt: skip
    process = subprocess.Popen(
        command,
        env=env if env is not None else os.environ.copy(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stdout: queue.Queue[str | None] = queue.Queue()
    stderr_lines: list[str] = []
    threading.Thread(target=_drain, args=(process.stdout, stdout, None), daemon=True).start()
    threading.Thread(
        target=_drain, args=(process.stderr, queue.Queue(), stderr_lines), daemon=True
    ).start()
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        line = None
        with contextlib.suppress(queue.Empty):
            line = stdout.get(timeout=max(0.1, min(remaining, 1.0)))
        if line is not None and line.startswith("ready:"):
            return RunningServer(process, host, grpc, http, metrics, line.strip(), stderr_lines)
        if process.poll() is not None or remaining <= 0:
            running = RunningServer(process, host, grpc, http, metrics, "", stderr_lines)
            running.stop()
            last = stderr_lines[-1] if stderr_lines else "no output"
            raise ServerStartError(f"python -m server did not become ready: {last}")
