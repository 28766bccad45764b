"""The HTTP API under load while its only Triton restarts: requests in flight are retried
(client.retry) until their deadline, anything refused is a 503 with Retry-After, nothing else
fails, and the gateway serves again without being restarted itself."""

from __future__ import annotations

import dataclasses
import threading

from server.embedded import start
from server.launch import free_ports
from tests.data import PHOTOS
from tests.servers import retire
from tests.web.serving import MODEL, config_for, serve

SENDERS = 3
PHOTO = PHOTOS[1]
WAIT_S = 120.0  # generous: the events below end the waits as soon as they happen


class Answers:
    """Every answer the senders got, in order, with a condition to wait on."""

    def __init__(self) -> None:
        self.statuses: list[tuple[int, str | None]] = []
        self.refusals: list[str] = []  # what a non-200 said, for the assertion message
        self.changed = threading.Condition()

    def add(self, status: int, retry_after: str | None, text: str) -> None:
        with self.changed:
            self.statuses.append((status, retry_after))
            if status != 200:
                self.refusals.append(f"{status} {text[:200]}")
            self.changed.notify_all()

    def wait_for_served(self, count: int, since: int = 0) -> None:
        """Until ``count`` requests answered 200 after the first ``since`` answers."""

        def served() -> bool:
            return sum(code == 200 for code, _ in self.statuses[since:]) >= count

        with self.changed:
            assert self.changed.wait_for(served, WAIT_S), self.refusals[-3:]


def test_a_triton_restart_under_load_costs_no_error_but_503s() -> None:
    ports = tuple(free_ports(3))
    triton = start(["--models", "u2netp_onnx"], ports=ports)  # type: ignore[arg-type]
    answers = Answers()
    stop = threading.Event()
    config = dataclasses.replace(config_for(triton.grpc_url), timeout_s=60.0)
    try:
        with serve(config) as served:

            def send() -> None:
                with served.client() as client:
                    while not stop.is_set():
                        files = {"file": (PHOTO.name, PHOTO.read_bytes())}
                        answer = client.post("/api/remove", files=files, data={"model": MODEL})
                        answers.add(
                            answer.status_code, answer.headers.get("Retry-After"), answer.text
                        )

            senders = [threading.Thread(target=send) for _ in range(SENDERS)]
            for sender in senders:
                sender.start()
            answers.wait_for_served(SENDERS)  # under load before the restart
            triton.stop()  # a rolling restart of the only replica, under load
            triton = start(["--models", "u2netp_onnx"], ports=ports)  # type: ignore[arg-type]
            restarted = len(answers.statuses)
            answers.wait_for_served(SENDERS, since=restarted)  # and served again after it
            stop.set()
            for sender in senders:
                sender.join(timeout=WAIT_S)
    finally:
        stop.set()
        retire(triton)
    statuses = answers.statuses
    assert {code for code, _ in statuses} <= {200, 503}, sorted(set(answers.refusals))
    assert all(retry for code, retry in statuses if code == 503)
    assert statuses[-1][0] == 200
