"""Start a child process and wait for the one line that says it is ready (stdlib only).

``python -m server`` prints ``ready: ...`` once Triton and its models are up; the tests, the
benches and ``python -m web`` (which starts the embedded Triton itself) all wait for it here.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from u2net.errors import ServingError

logger = logging.getLogger(__name__)

READY_PREFIX = "ready:"


class ChildNotReady(ServingError):
    """A child process exited or timed out before printing its ready line."""


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
class ReadyChild:
    """A running child process, its ready line and what it wrote on stderr so far."""

    process: subprocess.Popen[str]
    ready_line: str
    stderr_lines: list[str] = field(default_factory=list)

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM, wait, then SIGKILL if it did not exit in time."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                logger.warning(
                    "pid %d ignored SIGTERM for %gs; killing it", self.process.pid, timeout
                )
                self.process.kill()
                self.process.wait(timeout=10)
        return self.process.returncode


def _drain(stream: object, sink: queue.Queue[str | None], keep: list[str] | None) -> None:
    for line in stream:  # type: ignore[attr-defined]
        if keep is not None:
            keep.append(line.rstrip("\n"))
        sink.put(line)
    sink.put(None)


def spawn_until_ready(
    command: Sequence[str],
    timeout: float,
    env: dict[str, str] | None = None,
    prefix: str = READY_PREFIX,
) -> ReadyChild:
    """Run ``command``; return once a stdout line starts with ``prefix``.

    Raises ``ChildNotReady`` (naming the child's last stderr line) if it exits or times out
    first; the child is stopped then.
    """
    process = subprocess.Popen(
        list(command),
        env=env if env is not None else os.environ.copy(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stdout: queue.Queue[str | None] = queue.Queue()
    child = ReadyChild(process, "")
    threading.Thread(target=_drain, args=(process.stdout, stdout, None), daemon=True).start()
    threading.Thread(
        target=_drain, args=(process.stderr, queue.Queue(), child.stderr_lines), daemon=True
    ).start()
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        line = None
        with contextlib.suppress(queue.Empty):
            line = stdout.get(timeout=max(0.1, min(remaining, 1.0)))
        if line is not None and line.startswith(prefix):
            child.ready_line = line.strip()
            return child
        if process.poll() is not None or remaining <= 0:
            child.stop()
            last = child.stderr_lines[-1] if child.stderr_lines else "no output"
            raise ChildNotReady(f"{' '.join(command[:3])} did not become ready: {last}")
