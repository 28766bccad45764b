"""Size limits while streaming, and bounded capacity: 413 before the body is in memory,
503 with Retry-After at once when in flight + queue are full."""

from __future__ import annotations

import asyncio
import contextlib
import socket

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.data import PHOTOS
from tests.web.serving import MODEL, config_for, serve
from web.config import MB

LIMIT_MB = 1


@pytest.fixture(scope="module")
def small(triton_server):
    with serve(config_for(triton_server.grpc_url, max_upload_bytes=LIMIT_MB * MB)) as served:
        yield served


def raw_request(url: str, head: str, body_chunks) -> tuple[str, int]:
    """Send ``head`` then chunks until the server answers; (status line, body bytes sent)."""
    host, port = url.removeprefix("http://").split(":")
    sent = 0
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(head.encode())
        sock.setblocking(False)
        answer = b""
        for chunk in body_chunks:
            with contextlib.suppress(BlockingIOError):
                answer += sock.recv(65536)
            if answer:
                break
            try:
                sock.sendall(chunk)
            except (BlockingIOError, BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        sock.setblocking(True)
        while b"\r\n" not in answer:
            answer += sock.recv(65536)
    return answer.split(b"\r\n")[0].decode(), sent


def declared(path: str, length: str) -> str:
    return (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
        f"Content-Length: {length}\r\n\r\n"
    )


@pytest.mark.parametrize("path", ["/api/remove", "/v1.0/removebg"])
def test_a_declared_oversized_body_is_refused_before_any_byte_is_read(small, path) -> None:
    status, sent = raw_request(small.url, declared(path, str(50 * MB)), [])  # not one byte
    assert status.startswith("HTTP/1.1 413"), status
    assert sent == 0


@pytest.mark.parametrize("length", ["9" * 5000, "1e9", "\u00b2"])
def test_a_content_length_no_integer_holds_is_a_client_error(small, length) -> None:
    """uvicorn refuses what is not a length before the app; never a 500."""
    status, _ = raw_request(small.url, declared("/api/remove", length), [])
    assert status.split()[1] in ("400", "413"), status


def test_a_chunked_oversized_body_is_stopped_while_streaming(small) -> None:
    head = (
        "POST /api/remove HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    )
    part = b'--b\r\nContent-Disposition: form-data; name="file"; filename="x.jpg"\r\n\r\n'
    # a well-formed start, then a little more file than the limit, and the body never ends:
    # only a server that stops reading at the limit answers (one that waits for the end hangs)
    pieces = [part] + [b"y" * 65536] * (LIMIT_MB * 16 + 4)
    chunks = [f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in pieces]
    status, sent = raw_request(small.url, head, chunks)
    assert status.startswith("HTTP/1.1 413"), status
    assert sent < (LIMIT_MB + 1) * MB


def _rejected_as_too_large(served) -> float:
    with served.client() as client:
        text = client.get("/metrics").text
    families = text_string_to_metric_families(text)
    values = [
        s.value
        for family in families
        for s in family.samples
        if s.name == "web_rejections_total" and s.labels == {"reason": "file_too_large"}
    ]
    return values[0] if values else 0.0


def test_every_refusal_for_size_is_counted(small) -> None:
    """A declared size is refused by the body limit itself, outside the app's handlers."""
    before = _rejected_as_too_large(small)
    test_a_declared_oversized_body_is_refused_before_any_byte_is_read(small, "/api/remove")
    test_a_chunked_oversized_body_is_stopped_while_streaming(small)
    assert _rejected_as_too_large(small) - before == 2


def test_oversized_answers_say_the_limit(small) -> None:
    big = b"\xff" * (LIMIT_MB * MB + 1)
    with small.client() as client:
        rembg = client.post("/api/remove", files={"file": ("big.jpg", big)})
        removebg = client.post("/v1.0/removebg", json={"image_file_b64": "A" * (2 * MB)})
    assert rembg.status_code == 413 and "at most 1 MB" in rembg.json()["detail"]
    assert removebg.status_code == 413
    assert removebg.json()["errors"][0]["code"] == "file_too_large"


def test_a_base64_image_over_the_limit_after_decoding_is_413(small) -> None:
    import base64

    payload = base64.b64encode(b"\xff" * (LIMIT_MB * MB + 10)).decode()  # fits the body slack
    with small.client() as client:
        response = client.post("/v1.0/removebg", json={"image_file_b64": payload})
    assert response.status_code == 413, response.text


async def _burst(url: str, count: int) -> list[httpx.Response]:
    photo = PHOTOS[0].read_bytes()
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        requests = [
            client.post("/api/remove", files={"file": ("a.png", photo)}, data={"model": MODEL})
            for _ in range(count)
        ]
        return await asyncio.gather(*requests)


def test_over_capacity_is_503_with_retry_after_at_once(triton_server) -> None:
    config = config_for(triton_server.grpc_url, concurrency=1, queue=1, retry_after_s=2)
    with serve(config) as served:
        responses = asyncio.run(_burst(served.url, 6))
        with served.client() as client:
            after = client.post(
                "/api/remove",
                files={"file": ("a.png", PHOTOS[0].read_bytes())},
                data={"model": MODEL},
            )
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) >= 2 and set(statuses) == {200, 503}, statuses
    refused = [r for r in responses if r.status_code == 503]
    assert all(r.headers["Retry-After"] == "2" for r in refused)
    assert all("over capacity" in r.json()["detail"] for r in refused)
    # answered at once, not after waiting behind the others
    assert max(r.elapsed.total_seconds() for r in refused) < min(
        r.elapsed.total_seconds() for r in responses if r.status_code == 200
    )
    assert after.status_code == 200  # capacity comes back
