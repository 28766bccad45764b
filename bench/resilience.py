"""``python -m web`` through outages, restarts and a scale-out: the numbers behind
docs/resilience.md.

    .venv/bin/python bench/resilience.py             # the defaults, re-resolve every 5 s
    .venv/bin/python bench/resilience.py --grace 10 --probe 1 --reresolve 30

A real ``python -m web`` (as operators run it) in front of real embedded Tritons, its
``--triton-url`` a name (``dns://127.0.0.1:PORT/triton.test:PORT``) answered by a DNS server
on loopback (dnslib) with Triton A (127.0.0.1) and, once it is added, Triton B (127.0.0.2,
same port). Small uploads (u2netp) from ``--senders`` closed loops where load is needed.

1. scale-out: B starts, the name answers A and B: seconds until B has executed a request
2. plain restart: A (alone behind the name again) restarted under load: non-200 answers
3. outage: A stopped for good: seconds until the breaker opens; then a request's answer
   (status, Retry-After, seconds)
4. back: A started again: seconds from its ``ready:`` line to the first 200
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from dnslib import QTYPE, RR, A
from dnslib.server import BaseResolver, DNSLogger, DNSServer

from client.breaker import DEFAULT_GRACE_S, DEFAULT_PROBE_INTERVAL_S
from client.triton import TritonServer
from server.embedded import RunningServer, start
from server.launch import ReadyChild, free_ports, spawn_until_ready
from u2net.contract import CUTOUT
from u2net.report import table
from u2net.samples import sample_photos

ROOT = Path(__file__).resolve().parents[1]
NAME = "triton.test"
HOST_B = "127.0.0.2"
MODELS = ["--models", "u2netp_onnx"]
POLL_S = 0.05


class Answers(BaseResolver):
    def __init__(self) -> None:
        self.addresses = ["127.0.0.1"]

    def resolve(self, request, handler):  # dnslib's signature
        reply = request.reply()
        if request.q.qtype == QTYPE.A:
            for address in self.addresses:
                reply.add_answer(RR(request.q.qname, QTYPE.A, rdata=A(address), ttl=1))
        return reply


class Load:
    """``senders`` closed loops of uploads; every answer's status kept."""

    def __init__(self, url: str, photo: Path, senders: int) -> None:
        self.url, self.photo, self.statuses = url, photo, []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.send) for _ in range(senders)]

    def send(self) -> None:
        with httpx.Client(base_url=self.url, timeout=120) as client:
            while not self.stop.is_set():
                self.statuses.append(upload(client, self.photo).status_code)

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join()


def upload(client: httpx.Client, photo: Path) -> httpx.Response:
    files = {"file": (photo.name, photo.read_bytes())}
    return client.post("/api/remove", files=files, data={"model": "u2netp"})


def executed(server: RunningServer) -> int:
    with TritonServer(server.grpc_url) as triton:
        stats = triton.statistics(CUTOUT.name)
    return int(stats["model_stats"][0].get("inference_count", 0))


def until(condition: Callable[[], bool], limit_s: float = 300.0) -> float:
    """Seconds until ``condition()`` holds (polled)."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > limit_s:
            raise RuntimeError(f"not within {limit_s}s")
        time.sleep(POLL_S)
    return time.monotonic() - started


def breaker(client: httpx.Client) -> str:
    return client.get("/readyz").json()["triton"]["breaker"]


def gateway(target: str, args: argparse.Namespace) -> tuple[ReadyChild, str]:
    (port,) = free_ports(1)
    command = [sys.executable, "-m", "web", "-q", "--port", str(port), "--triton-url", target,
               "--outage-grace", str(args.grace), "--probe-interval", str(args.probe),
               "--reresolve-interval", str(args.reresolve)]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return spawn_until_ready(command, 120, env), f"http://127.0.0.1:{port}"


def scale_out(answers: Answers, a: RunningServer, url: str, args: argparse.Namespace) -> list:
    b = start(MODELS, host=HOST_B, ports=[a.grpc_port, *free_ports(2, HOST_B)])
    try:
        with Load(url, args.photo, args.senders) as load:
            answers.addresses = ["127.0.0.1", HOST_B]
            seconds = until(lambda: executed(b) > 0)
            answers.addresses = ["127.0.0.1"]
        bad = sum(s != 200 for s in load.statuses)
        return ["new replica behind the name takes requests", f"{seconds:.1f} s", f"{bad} non-200"]
    finally:
        b.stop()


def restart(a: RunningServer, url: str, args: argparse.Namespace) -> tuple[RunningServer, list]:
    with Load(url, args.photo, args.senders) as load:
        until(lambda: len(load.statuses) >= args.senders)
        a.stop()
        a = start(MODELS, ports=[a.grpc_port, a.http_port, a.metrics_port])
        count = len(load.statuses)
        until(lambda: load.statuses[count:].count(200) >= args.senders)  # served again
    bad = [s for s in load.statuses if s != 200]
    return a, ["plain restart under load", f"{len(load.statuses)} answers", f"{len(bad)} non-200"]


def outage(a: RunningServer, client: httpx.Client, args: argparse.Namespace) -> list[list]:
    stopped = time.monotonic()
    a.stop()  # SIGTERM: Triton stops answering at once, and exits a few seconds later
    until(lambda: breaker(client) == "open")
    opened = time.monotonic() - stopped
    time.sleep(args.asked_after)  # an operator asks a while later (the issue: 20 s)
    started = time.monotonic()
    answer = upload(client, args.photo)
    took = time.monotonic() - started
    head = f"{answer.status_code}, Retry-After {answer.headers.get('Retry-After')}"
    return [
        [
            "Triton stopped (SIGTERM): breaker open after",
            f"{opened:.1f} s",
            f"grace {args.grace:g} s",
        ],
        [f"a request {args.asked_after:g} s later", f"{took * 1000:.0f} ms", head],
    ]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--grace", type=float, default=DEFAULT_GRACE_S)
    p.add_argument("--probe", type=float, default=DEFAULT_PROBE_INTERVAL_S)
    p.add_argument("--reresolve", type=float, default=5.0)
    p.add_argument("--senders", type=int, default=3)
    p.add_argument("--asked-after", type=float, default=20.0)
    args = p.parse_args()
    args.photo = sample_photos()[1]
    answers = Answers()
    dns = DNSServer(answers, address="127.0.0.1", port=0, logger=DNSLogger(logf=lambda s: None))
    dns.start_thread()
    a = start(MODELS)
    target = f"dns://127.0.0.1:{dns.server.server_address[1]}/{NAME}:{a.grpc_port}"
    child, url = gateway(target, args)
    rows = []
    try:
        with httpx.Client(base_url=url, timeout=120) as client:
            rows.append(scale_out(answers, a, url, args))
            a, row = restart(a, url, args)
            rows.append(row)
            rows += outage(a, client, args)
            a = start(MODELS, ports=[a.grpc_port, a.http_port, a.metrics_port])
            seconds = until(lambda: upload(client, args.photo).status_code == 200)
            rows.append(["Triton back: first 200 after its ready line", f"{seconds:.1f} s",
                         f"probe interval {args.probe:g} s"])  # fmt: skip
    finally:
        child.stop()
        a.stop()
        dns.stop()
    print(f"grace {args.grace:g} s, probe {args.probe:g} s, re-resolve {args.reresolve:g} s")
    print(table(["what", "measured", "note"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
