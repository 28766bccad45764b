"""``python -m web`` as users run it: the ready line, the embedded Triton started and stopped
with it, one-line refusals."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from server.launch import ReadyChild, free_ports, spawn_until_ready
from tests.cli_run import ROOT, assert_one_line_error, run_cli
from tests.data import PHOTOS
from tests.web.serving import MODEL
from web.cli import check_exposure
from web.errors import ConfigError


@contextmanager
def web(*args: str) -> Iterator[tuple[ReadyChild, str]]:
    (port,) = free_ports(1)
    command = [sys.executable, "-m", "web", "--port", str(port), *args]
    child = spawn_until_ready(command, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        yield child, f"http://127.0.0.1:{port}"
    finally:
        child.stop()


def children(pid: int) -> set[int]:
    found = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found |= {int(p) for p in (task / "children").read_text().split()}
    return found


def cut(url: str) -> httpx.Response:
    photo = PHOTOS[1]
    files = {"file": (photo.name, photo.read_bytes())}
    return httpx.post(f"{url}/api/remove", files=files, data={"model": MODEL}, timeout=120)


@dataclass
class Sent:
    started: float
    ended: float
    outcome: int | str  # the HTTP status, or the error's type when nothing answered


def send_until(url: str, stop: threading.Event, sent: list[Sent]) -> None:
    """Upload the photo again and again, one connection per request, until told to stop."""
    photo = PHOTOS[1]
    while not stop.is_set():
        started, outcome = time.monotonic(), ""
        try:
            files = {"file": (photo.name, photo.read_bytes())}
            answer = httpx.post(f"{url}/api/remove", files=files, data={"model": MODEL},
                                headers={"Connection": "close"}, timeout=60)  # fmt: skip
            outcome = answer.status_code
        except httpx.TransportError as e:  # refused once the gateway stopped listening
            outcome = type(e).__name__
        sent.append(Sent(started, time.monotonic(), outcome))


def test_ready_line_then_sigterm_under_load_answers_every_request_in_flight_and_exits_0(
    triton_server,
) -> None:
    """The ready line once it serves (the API and its docs); then graceful drain: SIGTERM
    while uploads are in flight; each one the gateway accepted is answered 200, later ones
    are refused (the listening socket is closed), exit code 0."""
    sent: list[Sent] = []
    stop = threading.Event()
    with web("--triton-url", triton_server.grpc_url) as (child, url):
        assert child.ready_line == f"ready: {url}"
        assert httpx.get(f"{url}/docs").status_code == 200
        senders = [threading.Thread(target=send_until, args=(url, stop, sent)) for _ in range(3)]
        for sender in senders:
            sender.start()
        deadline = time.monotonic() + 120
        while sum(s.outcome == 200 for s in sent) < 3:  # under load first
            assert time.monotonic() < deadline and not [s for s in sent if s.outcome != 200]
            time.sleep(0.05)
        signalled = time.monotonic()
        child.process.send_signal(signal.SIGTERM)
        code = child.process.wait(timeout=60)
        stop.set()
        for sender in senders:
            sender.join(timeout=60)
    assert code == 0
    in_flight = [s for s in sent if s.started < signalled < s.ended and s.outcome == 200]
    assert in_flight, "no request was answered after SIGTERM: nothing was drained"
    # every request got 200, or was refused before it was accepted (the socket was closed);
    # none accepted and then dropped (ReadError, RemoteProtocolError), none a 5xx
    assert {s.outcome for s in sent} <= {200, "ConnectError"}, [s.outcome for s in sent]
    assert all(s.outcome != 200 or s.started < signalled for s in sent)


def test_without_triton_url_it_runs_the_embedded_triton_and_stops_it() -> None:
    with web("-q") as (child, url):
        triton = children(child.process.pid)
        assert triton, "expected python -m server as a child"
        assert httpx.get(f"{url}/readyz").status_code == 200
        assert cut(url).status_code == 200
        child.process.send_signal(signal.SIGTERM)
        assert child.process.wait(timeout=120) == 0
    for pid in triton:
        assert (
            not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()
        )


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10"])
def test_binding_beyond_loopback_without_keys_refuses_to_start(host) -> None:
    done = run_cli("web", "--host", host, "--triton-url", "127.0.0.1:1", timeout=60)
    assert_one_line_error(done, f"refusing to listen on {host} without --api-keys-file")


def test_no_auth_overrides_with_a_warning(caplog) -> None:
    caplog.set_level(logging.WARNING)
    check_exposure("0.0.0.0", frozenset(), no_auth=True)
    assert "--no-auth" in caplog.text
    with pytest.raises(ConfigError):
        check_exposure("0.0.0.0", frozenset(), no_auth=False)
    check_exposure("0.0.0.0", frozenset({"k"}), no_auth=False)  # keys: fine


@pytest.mark.parametrize("content", [None, "", "# only a comment\n\n"])
def test_a_missing_or_empty_keys_file_is_one_line(tmp_path, content) -> None:
    path = tmp_path / "keys.txt"
    if content is not None:
        path.write_text(content)
    done = run_cli("web", "--api-keys-file", path, "--triton-url", "127.0.0.1:1", timeout=60)
    assert_one_line_error(done, "--api-keys-file")


def test_a_busy_port_is_one_line() -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = run_cli("web", "--port", str(port), "--triton-url", "127.0.0.1:1", timeout=60)
    assert_one_line_error(done, f"cannot listen on 127.0.0.1:{port}")


@pytest.mark.parametrize(
    ("flag", "value"), [("--concurrency", "0"), ("--queue", "-1"), ("--max-upload-mb", "0")]
)
def test_bad_numbers_are_usage_errors(flag, value) -> None:
    done = run_cli("web", flag, value, timeout=60)
    assert done.returncode == 2 and "expected" in done.stderr.splitlines()[-1]
