"""Scale-out the gateway sees: its Triton target is a name (``dns://DNS/name:port``, as a
Kubernetes headless Service is), and a replica added behind the name later starts taking
requests once the gateway resolves the name again (``reresolve_s``), with no request lost.

A small DNS server on loopback (dnslib) answers the name with the session's Triton
(127.0.0.1) first, then with a second Triton on 127.0.0.2 as well, on the same port."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import pytest
import tritonclient.grpc as grpcclient
from dnslib import QTYPE, RR, A
from dnslib.server import BaseResolver, DNSLogger, DNSServer

from server.embedded import RunningServer, start
from server.launch import free_ports
from tests.data import PHOTOS
from tests.servers import retire
from tests.waiting import until
from tests.web.serving import MODEL, config_for, serve
from u2net.contract import CUTOUT

log = logging.getLogger(__name__)

NAME = "triton.test"
SECOND_HOST = "127.0.0.2"  # all of 127/8 is loopback on Linux: same port, another address
PHOTO = PHOTOS[1]
SENDERS = 2
WAIT_S = 60.0  # generous; polling ends the waits as soon as it happens


class Answers(BaseResolver):
    """A records for ``NAME``: whatever ``addresses`` holds at the time of the question."""

    def __init__(self, addresses: list[str]) -> None:
        self.addresses = addresses

    def resolve(self, request, handler):
        reply = request.reply()
        question = request.q
        if question.qtype == QTYPE.A and str(question.qname).rstrip(".") == NAME:
            for address in self.addresses:
                reply.add_answer(RR(question.qname, QTYPE.A, rdata=A(address), ttl=1))
        return reply


@pytest.fixture
def dns() -> Iterator[tuple[Answers, int]]:
    answers = Answers(["127.0.0.1"])
    server = DNSServer(answers, address="127.0.0.1", port=0, logger=DNSLogger(logf=log.debug))
    server.start_thread()
    try:
        yield answers, server.server.server_address[1]
    finally:
        server.stop()


def served_by(server: RunningServer) -> int:
    """How many ``cutout`` requests this Triton has executed."""
    with grpcclient.InferenceServerClient(server.grpc_url) as client:
        stats = client.get_inference_statistics(CUTOUT.name, as_json=True)
    return int(stats["model_stats"][0].get("inference_count", 0))


def test_a_replica_added_behind_the_name_takes_requests_after_a_re_resolve(
    triton_server: RunningServer, dns: tuple[Answers, int]
) -> None:
    answers, dns_port = dns
    ports = [triton_server.grpc_port, *free_ports(2, SECOND_HOST)]
    second = start(["--models", "u2netp_onnx"], host=SECOND_HOST, ports=ports)
    target = f"dns://127.0.0.1:{dns_port}/{NAME}:{triton_server.grpc_port}"
    statuses: list[int] = []
    stop = threading.Event()
    try:
        with serve(config_for(target, reresolve_s=1.0)) as served:

            def send() -> None:
                with served.client() as client:
                    while not stop.is_set():
                        files = {"file": (PHOTO.name, PHOTO.read_bytes())}
                        answer = client.post("/api/remove", files=files, data={"model": MODEL})
                        statuses.append(answer.status_code)

            senders = [threading.Thread(target=send) for _ in range(SENDERS)]
            for sender in senders:
                sender.start()
            first = "requests through the first replica"
            until(lambda: len(statuses) >= 2 * SENDERS, first, WAIT_S)
            assert served_by(second) == 0  # not in DNS yet: never asked
            answers.addresses = ["127.0.0.1", SECOND_HOST]  # scale-out
            until(lambda: served_by(second) > 0, "the new replica taking requests", WAIT_S)
            stop.set()
            for sender in senders:
                sender.join(timeout=WAIT_S)
    finally:
        stop.set()
        retire(second)
    assert statuses and set(statuses) == {200}  # channels swapped under load, nothing lost
