"""Without ``--triton-url``: run the embedded Triton (``python -m server``, a child process on
free loopback ports) for as long as the gateway runs. web never imports ``server``."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from u2net.processes import free_ports, spawn_until_ready

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"


def server_command(grpc: int, http: int, metrics: int) -> list[str]:
    return [
        sys.executable, "-m", "server", "--host", LOOPBACK,
        "--grpc-port", str(grpc), "--http-port", str(http), "--metrics-port", str(metrics),
    ]  # fmt: skip


@contextmanager
def embedded_triton(timeout_s: float) -> Iterator[str]:
    """Start ``python -m server``, yield its gRPC address once it is ready, stop it after."""
    grpc, http, metrics = free_ports(3, LOOPBACK)
    log.info("starting the embedded Triton (python -m server) on %s:%d", LOOPBACK, grpc)
    child = spawn_until_ready(server_command(grpc, http, metrics), timeout_s)
    log.info("%s", child.ready_line)
    try:
        yield f"{LOOPBACK}:{grpc}"
    finally:
        log.info("stopping the embedded Triton")
        child.stop()
