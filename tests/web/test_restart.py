"""The HTTP API under load while its only Triton restarts: requests in flight are retried
(u2net.retry) until their deadline, anything refused is a 503 with Retry-After, nothing else
fails, and the gateway serves again without being restarted itself."""

from __future__ import annotations

import dataclasses
import threading
import time

from tests.data import PHOTOS
from tests.web.serving import MODEL, config_for, serve
from u2net.embedded import start
from u2net.processes import free_ports

SENDERS = 3
PHOTO = PHOTOS[1]


def test_a_triton_restart_under_load_costs_no_error_but_503s() -> None:
    ports = tuple(free_ports(3))
    triton = start(["--models", "u2netp_onnx"], ports=ports)  # type: ignore[arg-type]
    statuses: list[tuple[int, str | None]] = []
    refusals: list[str] = []  # what a non-200 said, for the assertion message
    stop = threading.Event()
    config = dataclasses.replace(config_for(triton.grpc_url), timeout_s=60.0)
    try:
        with serve(config) as served:

            def send() -> None:
                with served.client() as client:
                    while not stop.is_set():
                        files = {"file": (PHOTO.name, PHOTO.read_bytes())}
                        answer = client.post("/api/remove", files=files, data={"model": MODEL})
                        statuses.append((answer.status_code, answer.headers.get("Retry-After")))
                        if answer.status_code != 200:
                            refusals.append(f"{answer.status_code} {answer.text[:200]}")

            senders = [threading.Thread(target=send) for _ in range(SENDERS)]
            for sender in senders:
                sender.start()
            time.sleep(3)
            before = len(statuses)
            triton.stop()  # a rolling restart of the only replica, under load
            triton = start(["--models", "u2netp_onnx"], ports=ports)  # type: ignore[arg-type]
            restarted = len(statuses)
            time.sleep(4)
            stop.set()
            for sender in senders:
                sender.join(timeout=120)
    finally:
        stop.set()
        triton.stop()
    assert before > 0 and len(statuses) > restarted  # load before, and served again after
    assert {code for code, _ in statuses} <= {200, 503}, sorted(set(refusals))
    assert all(retry for code, retry in statuses if code == 503)
    assert statuses[-1][0] == 200
