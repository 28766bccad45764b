"""Without ``--triton-url``: run the embedded Triton (``python -m server``, a child process on
free loopback ports, started by :mod:`server.embedded`) for as long as the gateway runs. Of
``server``, web imports only that launcher, and only when it starts one: the gateway's image
(deploy/web/Dockerfile) has no ``server/`` and always names its Triton."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)


@contextmanager
def embedded_triton(timeout_s: float) -> Iterator[str]:
    """Start ``python -m server``, yield its gRPC address once it is ready, stop it after."""
    from server.embedded import LOOPBACK, start
    from server.launch import free_ports

    ports = free_ports(3, LOOPBACK)
    log.info("starting the embedded Triton (python -m server) on %s:%d", LOOPBACK, ports[0])
    server = start(timeout=timeout_s, host=LOOPBACK, ports=ports)
    log.info("%s", server.ready_line)
    try:
        yield server.grpc_url
    finally:
        log.info("stopping the embedded Triton")
        server.stop()
