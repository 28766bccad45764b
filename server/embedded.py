"""The embedded Triton (``python -m server``) as a child process on free ports: its command
line, and starting it and waiting for its ``ready:`` line.

``python -m web`` (without ``--triton-url``), the tests' ``triton_server`` fixture, the benches
and the demo all start it here. It runs the server as a command (``python -m server``), so
importing it loads nothing of Triton; the generic half (free ports, spawn and wait for a ready
line) is :mod:`server.launch`.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

from server.launch import ChildNotReady, ReadyChild, free_ports, spawn_until_ready
from u2net.errors import ServerStartError

LOOPBACK = "127.0.0.1"


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
        return ReadyChild(self.process, self.ready_line, self.stderr_lines).stop(timeout)


def server_command(host: str, grpc: int, http: int, metrics: int) -> list[str]:
    return [
        sys.executable, "-m", "server",
        "--host", host,
        "--grpc-port", str(grpc),
        "--http-port", str(http),
        "--metrics-port", str(metrics),
    ]  # fmt: skip


def start(
    extra_args: Sequence[str] = (),
    timeout: float = 120.0,
    host: str = LOOPBACK,
    env: dict[str, str] | None = None,
    ports: Sequence[int] | None = None,
) -> RunningServer:
    """Run ``python -m server`` on free ports (or ``ports``: grpc, http, metrics); return once
    it printed ``ready:``. Raises ServerStartError naming its last stderr line otherwise."""
    grpc, http, metrics = ports or free_ports(3, host)
    command = [*server_command(host, grpc, http, metrics), *extra_args]
    try:
        child = spawn_until_ready(command, timeout, env)
    except ChildNotReady as e:
        raise ServerStartError(str(e)) from e
    return RunningServer(
        child.process, host, grpc, http, metrics, child.ready_line, child.stderr_lines
    )
