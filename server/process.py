"""Run the Triton binary: port checks, start in its own process group, readiness, stop."""

from __future__ import annotations

import collections
import contextlib
import ctypes
import logging
import os
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from u2net.errors import ServerStartError

logger = logging.getLogger(__name__)

_LOG_PREFIX = re.compile(r"^([IWE])\d{4} [\d:.]+\s+\d+\s+\S+:\d+\]\s?(.*)$")
_PORT_IN_USE = re.compile(r"already in use|address in use", re.IGNORECASE)
_PR_SET_PDEATHSIG = 1


def check_ports(host: str, ports: dict[str, int]) -> None:
    """Raise ServerStartError if any port is taken (bind test, as Triton would)."""
    for service, port in ports.items():
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, port))
            except OSError as e:
                raise ServerStartError(
                    f"{service} port {host}:{port} is already in use ({e.strerror}); "
                    f"stop the other server or pick another with --{service}-port"
                ) from e


def group_members(pgid: int) -> list[int]:
    """PIDs whose process group is ``pgid`` (read from /proc, no psutil)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...; comm may contain spaces, so split after ')'
        fields = text.rsplit(")", 1)[-1].split()
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


def _libc() -> ctypes.CDLL | None:
    with contextlib.suppress(OSError):
        return ctypes.CDLL("libc.so.6", use_errno=True)
    return None


# loaded here, in the parent: loading a library in the child between fork and exec is not
# safe where the parent has threads (a test worker's gRPC threads; a lock held at the fork)
_LIBC = _libc()


def _die_with_parent() -> None:  # runs in the child between fork and exec: one system call
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class TritonProcess:
    """A running ``tritonserver``, leader of its own process group (stubs included)."""

    def __init__(
        self, command: Sequence[str], env: dict[str, str], echo: bool = False, shown: str = ""
    ) -> None:
        """``shown``: the command as the log may show it (no secret); default: the command."""
        self.command = list(command)
        self._lines: collections.deque[str] = collections.deque(maxlen=400)
        self._errors: collections.deque[str] = collections.deque(maxlen=20)
        self._echo = echo
        logger.debug("starting: %s", shown or " ".join(self.command))
        try:
            self.popen = subprocess.Popen(
                self.command,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group: the stubs can be stopped with it
                preexec_fn=_die_with_parent,  # noqa: PLW1509 - one prctl, libc loaded before
            )
        except OSError as e:
            raise ServerStartError(f"cannot start {self.command[0]}: {e}") from e
        self.pgid = self.popen.pid
        self._reader = threading.Thread(target=self._read, name="triton-log", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for raw in self.popen.stdout:
            line = raw.decode("utf-8", errors="replace").rstrip()
            if not line:
                continue
            self._lines.append(line)
            match = _LOG_PREFIX.match(line)
            if match and match.group(1) == "E":
                self._errors.append(match.group(2))
            elif not match and ("error" in line.lower() or "failed" in line.lower()):
                self._errors.append(line)
            if self._echo:
                logger.info("triton: %s", line)
            elif match and match.group(1) == "W":  # e.g. a GPU instance that ended on the CPU
                logger.warning("triton: %s", match.group(2))

    def alive(self) -> bool:
        return self.popen.poll() is None

    def failure(self) -> str:
        """One line explaining why Triton exited."""
        self._reader.join(timeout=5)
        text = "\n".join(self._errors) + "\n".join(self._lines)
        port_line = next((e for e in self._errors if _PORT_IN_USE.search(e)), None)
        if port_line or _PORT_IN_USE.search(text):
            return f"a port is already in use: {port_line or 'see triton log'}"
        last = self._errors[-1] if self._errors else (self._lines[-1] if self._lines else "")
        return f"Triton exited with code {self.popen.returncode}: {last or 'no output'}"

    def wait_ready(
        self, http_base: str, models: Sequence[str], timeout: float, stop: threading.Event
    ) -> bool:
        """Poll until server and every model are ready. False if ``stop`` was set first."""
        deadline = time.monotonic() + timeout
        pending = [f"{http_base}/v2/health/live"]
        pending += [f"{http_base}/v2/models/{m}/ready" for m in models]
        while pending:
            if stop.is_set():
                return False
            if not self.alive():
                raise ServerStartError(self.failure())
            if time.monotonic() > deadline:
                raise ServerStartError(
                    f"not ready after {timeout:.0f}s (waiting for {pending[0]}); "
                    f"last Triton message: {self._errors[-1] if self._errors else 'none'}"
                )
            while pending and _ok(pending[0]):
                pending.pop(0)
            if pending:
                stop.wait(0.25)
        return True

    def stop(self, timeout: float = 40.0) -> int | None:
        """SIGTERM Triton (graceful: finishes in-flight requests, unloads models, stops stubs),
        then SIGKILL the whole group if anything is left."""
        if self.alive():
            logger.info("stopping Triton (pid %d)", self.popen.pid)
            with contextlib.suppress(ProcessLookupError):
                self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                logger.warning("Triton did not stop in %.0fs; killing its process group", timeout)
        leftovers = group_members(self.pgid)
        if leftovers:
            logger.debug("killing leftover processes %s of group %d", leftovers, self.pgid)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pgid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=10)
        self._reader.join(timeout=5)
        return self.popen.returncode


def _ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False
