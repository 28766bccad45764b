"""Fetching by URL: off by default; only public addresses (after DNS, after each redirect);
redirects, bytes and time capped. Traffic stays on loopback: private and link-local
addresses are only ever checked, never connected to."""

from __future__ import annotations

import ipaddress
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from tests.data import PHOTOS
from tests.web.serving import MODEL, config_for, serve
from web.config import MB, FetchPolicy
from web.errors import BadRequest
from web.fetch import check_url, refusal

PHOTO = PHOTOS[3]


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("192.168.0.10", "private"),
        ("172.16.5.4", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.251", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::ffff:127.0.0.1", "loopback"),
        ("2002:c0a8:0101::", "private"),
        ("64:ff9b::a00:1", "private"),
        ("8.8.8.8", None),
        ("2606:4700::1111", None),
    ],
)
def test_only_public_addresses_pass(address, reason) -> None:
    assert refusal(ipaddress.ip_address(address)) == reason


class Origin(BaseHTTPRequestHandler):
    """A loopback web server: the photo, redirects, a big body and a slow one."""

    asked: ClassVar[list[str]] = []  # every path asked for, in order

    def do_GET(self) -> None:
        Origin.asked.append(self.path)
        port = self.server.server_address[1]
        routes = {
            "/photo.jpg": lambda: self._send(PHOTO.read_bytes()),
            "/to-photo": lambda: self._redirect("/photo.jpg"),
            "/to-other-loopback": lambda: self._redirect(f"http://127.0.0.2:{port}/photo.jpg"),
            "/loop": lambda: self._redirect("/loop"),
            "/big": lambda: self._send(b"\xff" * (2 * MB)),
            "/slow": self._slow,
            "/missing": lambda: self.send_error(404),
        }
        routes.get(self.path, lambda: self.send_error(404))()

    def _send(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _slow(self) -> None:
        time.sleep(3)
        self._send(b"late")

    def log_message(self, *args: object) -> None:
        return None


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        return None  # the gateway hangs up on /slow and /big on purpose


@pytest.fixture(scope="module")
def origin() -> Iterator[str]:
    server = QuietServer(("127.0.0.1", 0), Origin)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def policy(**kwargs) -> FetchPolicy:
    return FetchPolicy(enabled=True, timeout_s=1.5, max_redirects=3, **kwargs)


@pytest.fixture(scope="module")
def fetching(triton_server):
    """URL fetch on, with 127.0.0.1 (only) exempted so the loopback origin stands in for the
    internet; 127.0.0.2 and the name localhost stay refused."""
    config = config_for(
        triton_server.grpc_url,
        fetch=policy(exempt_networks=("127.0.0.1/32",)),
        max_upload_bytes=MB,
    )
    with serve(config) as served, served.client() as client:
        yield client


def get(client, url: str):
    return client.get("/api/remove", params={"url": url, "model": MODEL})


def test_url_fetch_is_off_by_default(http, origin) -> None:
    response = get(http, f"{origin}/photo.jpg")
    assert response.status_code == 400 and "--allow-url-fetch" in response.json()["detail"]


def test_a_fetched_photo_equals_the_uploaded_one(fetching, origin) -> None:
    fetched = get(fetching, f"{origin}/to-photo")
    uploaded = fetching.post(
        "/api/remove", files={"file": (PHOTO.name, PHOTO.read_bytes())}, data={"model": MODEL}
    )
    assert fetched.status_code == 200, fetched.text
    assert fetched.content == uploaded.content


def test_remove_bg_image_url(fetching, origin) -> None:
    response = fetching.post("/v1.0/removebg", json={"image_url": f"{origin}/photo.jpg"})
    assert response.status_code == 200 and response.headers["X-Width"]


def test_remove_bg_background_url_goes_through_the_same_guard(fetching, origin) -> None:
    photo = f"{origin}/photo.jpg"
    response = fetching.post("/v1.0/removebg", json={"image_url": photo, "bg_image_url": photo})
    assert response.status_code == 200 and response.headers["content-type"] == "image/jpeg"
    refused = {"image_url": photo, "bg_image_url": f"{origin}/to-other-loopback"}
    (error,) = fetching.post("/v1.0/removebg", json=refused).json()["errors"]
    assert error["title"].startswith("bg_image_url: image URL: expected a public address")


def test_a_bad_field_is_refused_before_the_background_url_is_fetched(fetching, origin) -> None:
    background = f"{origin}/photo.jpg?as=background"  # a path no other test asks for
    fields = {"image_url": f"{origin}/photo.jpg", "bg_image_url": background}
    response = fetching.post("/v1.0/removebg", json={**fields, "size": "huge"})
    (error,) = response.json()["errors"]
    assert response.status_code == 400 and error["title"].startswith("size: expected one of")
    assert "/photo.jpg?as=background" not in Origin.asked


@pytest.mark.parametrize(
    ("path", "status", "says"),
    [
        ("/to-other-loopback", 400, "got 127.0.0.2 (loopback)"),
        ("/loop", 400, "expected at most 3 redirects"),
        ("/big", 413, "at most 1 MB"),
        ("/slow", 400, "within 1.5s"),
        ("/missing", 400, "expected status 200, got 404"),
    ],
)
def test_redirects_bytes_and_time_are_capped(fetching, origin, path, status, says) -> None:
    response = get(fetching, f"{origin}{path}")
    assert response.status_code == status and says in response.json()["detail"]


def test_names_are_checked_after_dns_resolution(triton_server, origin) -> None:
    port = origin.rsplit(":", 1)[1]
    with serve(config_for(triton_server.grpc_url, fetch=policy())) as served, served.client() as c:
        response = get(c, f"http://localhost:{port}/photo.jpg")
    assert response.status_code == 400
    assert "expected a public address" in response.json()["detail"]
    assert "(loopback) for localhost" in response.json()["detail"]


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/x", "http:///x"])
def test_only_http_urls(fetching, url) -> None:
    response = get(fetching, url)
    assert response.status_code == 400 and "expected an http(s) URL" in response.json()["detail"]


def test_without_the_exemption_loopback_is_refused(triton_server, origin) -> None:
    with serve(config_for(triton_server.grpc_url, fetch=policy())) as served, served.client() as c:
        response = get(c, f"{origin}/photo.jpg")
    assert response.status_code == 400
    assert "expected a public address, got 127.0.0.1 (loopback)" in response.json()["detail"]


# every spelling of a loopback address that a URL parser, inet_aton or IDNA reads as one
LOOPBACK_SPELLINGS = {
    "127.1": "got 127.0.0.1 (loopback) for 127.1",
    "127.0.1": "got 127.0.0.1 (loopback) for 127.0.1",
    "0x7f.1": "got 127.0.0.1 (loopback) for 0x7f.1",
    "0x7f000001": "got 127.0.0.1 (loopback) for 0x7f000001",
    "2130706433": "got 127.0.0.1 (loopback) for 2130706433",
    "0177.0.0.1": "got 127.0.0.1 (loopback) for 0177.0.0.1",
    "127.000.000.001": "got 127.0.0.1 (loopback) for 127.000.000.001",
    "127.0.0.1.": "got 127.0.0.1 (loopback) for 127.0.0.1.",
    "0": "got 0.0.0.0 (unspecified) for 0",
    "127\u30020\u30020\u30021": "got 127.0.0.1 (loopback)",  # ideographic full stops (IDNA)
    "\u2460\u2461\u2466.0.0.1": "got 127.0.0.1 (loopback)",  # circled digits (NFKC)
    "[::1]": "got ::1 (loopback)",
    "[::ffff:127.0.0.1]": "got ::ffff:7f00:1 (loopback)",
    "[0:0:0:0:0:ffff:7f00:1]": "got ::ffff:7f00:1 (loopback)",
}


@pytest.mark.parametrize("host", list(LOOPBACK_SPELLINGS))
def test_every_spelling_of_a_private_address_gets_the_public_address_wording(host) -> None:
    """aiohttp connects to what yarl makes of the host (IDNA, NFKC) and refuses other IPv4
    spellings with its own words: each is checked as the address it spells."""
    with pytest.raises(BadRequest) as refused:
        check_url(f"http://{host}:8080/photo.jpg", policy())
    assert str(refused.value) == f"image URL: expected a public address, {LOOPBACK_SPELLINGS[host]}"


@pytest.mark.parametrize(
    ("host", "says"),
    [("8.8.8.8", None), ("1.1", "expected an IPv4 address written 1.0.0.1, got '1.1'"),
     ("example.com", None), ("0x7f.example.com", None)],
)  # fmt: skip
def test_a_public_address_is_fetched_only_as_aiohttp_writes_it(host, says) -> None:
    if says is None:
        assert check_url(f"http://{host}/x.jpg", policy()) == host
    else:
        with pytest.raises(BadRequest, match=says):
            check_url(f"http://{host}/x.jpg", policy())


@pytest.mark.parametrize("host", ["127.0.2", "2130706434", "127\u30020\u30020\u30022"])
def test_the_gateway_refuses_spellings_of_a_private_address(fetching, origin, host) -> None:
    port = origin.rsplit(":", 1)[1]
    response = get(fetching, f"http://{host}:{port}/photo.jpg?as={host}")
    assert response.status_code == 400
    assert (
        "image URL: expected a public address, got 127.0.0.2 (loopback)"
        in (response.json()["detail"])
    )
    assert f"/photo.jpg?as={host}" not in Origin.asked
