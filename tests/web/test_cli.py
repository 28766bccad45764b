"""``python -m web`` as users run it: the ready line, the embedded Triton started and stopped
with it, one-line refusals."""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from server.launch import ReadyChild, free_ports, spawn_until_ready
from tests.cli_run import ROOT, assert_one_line_error, run_cli
from tests.data import PHOTOS
from tests.waiting import until
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


BOUNDARY = "drain-test-boundary"
HEAD_BYTES = 1024  # what each held upload sends before the gate opens


def multipart(photo: Path) -> bytes:
    """The form ``cut`` sends (the model and the photo), encoded by hand to stream it in parts."""
    model = f'Content-Disposition: form-data; name="model"\r\n\r\n{MODEL}'.encode()
    file = (
        f'Content-Disposition: form-data; name="file"; filename="{photo.name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode()
        + photo.read_bytes()
    )
    delimiter = f"--{BOUNDARY}\r\n".encode()
    return delimiter + model + b"\r\n" + delimiter + file + f"\r\n--{BOUNDARY}--\r\n".encode()


def held_upload(url: str, body: bytes, gate: threading.Event) -> httpx.Response:
    """POST ``body``: its first HEAD_BYTES at once, the rest once ``gate`` opens."""

    def parts() -> Iterator[bytes]:
        yield body[:HEAD_BYTES]
        assert gate.wait(timeout=120), "the test never opened the gate"
        yield body[HEAD_BYTES:]

    headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
               "Content-Length": str(len(body))}  # fmt: skip
    return httpx.post(f"{url}/api/remove", content=parts(), headers=headers, timeout=120)


def body_bytes_read(url: str) -> float:
    text = httpx.get(f"{url}/metrics").text
    families = text_string_to_metric_families(text)
    (family,) = [f for f in families if f.name == "web_request_body_bytes"]
    return sum(s.value for s in family.samples if s.name.endswith("_total"))


def refuses_connections(url: str) -> bool:
    host, port = httpx.URL(url).host, httpx.URL(url).port
    try:
        socket.create_connection((host, port), timeout=5).close()
    except ConnectionRefusedError:
        return True
    return False


def test_ready_line_then_sigterm_answers_every_accepted_request_refuses_new_ones_exits_0(
    triton_server,
) -> None:
    """The ready line once it serves (the API and its docs); then graceful drain: three uploads
    the gateway is reading when SIGTERM comes; it stops listening at once (a new connection is
    refused) yet answers all three, byte for byte as before the signal, and exits 0.

    The uploads are held on a gate, so none races the listening socket's close: a connection
    the kernel completed but no request of which was read yet is closed unanswered (uvicorn's
    drain, as any HTTP/1.1 server's), which a client cannot tell from a dropped request."""
    body, gate = multipart(PHOTOS[1]), threading.Event()
    with web("--triton-url", triton_server.grpc_url) as (child, url):
        assert child.ready_line == f"ready: {url}"
        assert httpx.get(f"{url}/docs").status_code == 200
        unhurried = cut(url)
        assert unhurried.status_code == 200
        read_before = body_bytes_read(url)
        with ThreadPoolExecutor(3) as pool:
            held = [pool.submit(held_upload, url, body, gate) for _ in range(3)]
            until(lambda: body_bytes_read(url) >= read_before + 3 * HEAD_BYTES,
                  "the gateway reads all three uploads")  # fmt: skip
            child.process.send_signal(signal.SIGTERM)
            until(lambda: refuses_connections(url), "the gateway stops listening")
            with pytest.raises(httpx.ConnectError):
                cut(url)
            assert child.process.poll() is None, "exited with requests it had accepted unanswered"
            gate.set()
            answers = [future.result() for future in held]
        code = child.process.wait(timeout=60)
    assert [a.status_code for a in answers] == [200] * 3, [a.text[:200] for a in answers]
    assert all(a.content == unhurried.content for a in answers)
    assert code == 0


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
