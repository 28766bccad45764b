"""API keys (X-Api-Key, constant-time, never logged) and CORS only for named origins."""

from __future__ import annotations

import logging

import pytest

from tests.data import PHOTOS
from tests.web.serving import MODEL, config_for, serve
from web.auth import key_matches, presented_key

KEY = "k3y-that-must-never-be-logged"
PHOTO = PHOTOS[1]


@pytest.fixture(scope="module")
def keyed(triton_server):
    with serve(config_for(triton_server.grpc_url, api_keys=frozenset({KEY, "other"}))) as served:
        yield served


def rembg(client, **headers):
    files = {"file": (PHOTO.name, PHOTO.read_bytes())}
    return client.post("/api/remove", files=files, data={"model": MODEL}, headers=headers)


def removebg(client, **headers):
    files = {"image_file": (PHOTO.name, PHOTO.read_bytes())}
    return client.post("/v1.0/removebg", files=files, headers=headers)


@pytest.mark.parametrize(
    ("headers", "says"),
    [
        ({}, "missing API key"),
        ({"X-Api-Key": "wrong"}, "invalid API key"),
        ({"X-Api-Key": KEY[:-1]}, "invalid API key"),
    ],
)
def test_missing_or_wrong_keys_are_403_in_each_apis_shape(keyed, headers, says) -> None:
    with keyed.client() as client:
        first, second = rembg(client, **headers), removebg(client, **headers)
        by_url = client.get("/api/remove", params={"url": "http://x.test/a.jpg"}, headers=headers)
        account = client.get("/v1.0/account", headers=headers)
        metrics = client.get("/metrics", headers=headers)
    assert (first.status_code, second.status_code, account.status_code) == (403, 403, 403)
    assert says in first.json()["detail"] and by_url.status_code == 403
    assert says in by_url.json()["detail"]
    assert second.json()["errors"][0] == {"title": second.json()["errors"][0]["title"],
                                          "code": "auth_failed"}  # fmt: skip
    assert metrics.status_code == 403


def test_a_right_key_is_served_and_never_logged(keyed, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    with keyed.client() as client:
        assert rembg(client, **{"X-Api-Key": KEY}).status_code == 200
        assert removebg(client, **{"X-Api-Key": KEY}).status_code == 200
        assert client.get("/metrics", headers={"Authorization": f"Bearer {KEY}"}).status_code == 200
        assert rembg(client, **{"X-Api-Key": "nope"}).status_code == 403
    assert KEY not in caplog.text and "nope" not in caplog.text


def test_health_and_the_ui_need_no_key(keyed) -> None:
    with keyed.client() as client:
        assert client.get("/healthz").status_code == 200
        assert client.get("/").status_code == 200


@pytest.mark.parametrize(
    ("given", "expected"),
    [(KEY, True), ("other", True), ("", False), (KEY + "x", False), ("OTHER", False)],
)
def test_key_matches(given, expected) -> None:
    assert key_matches(given, {KEY, "other"}) is expected


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"x-api-key": "a"}, "a"),
        ({"authorization": "Bearer b"}, "b"),
        ({"authorization": "Basic c"}, None),
        ({}, None),
    ],
)
def test_presented_key(headers, expected) -> None:
    assert presented_key(headers) == expected


def test_no_cors_headers_by_default(http) -> None:
    response = http.get("/healthz", headers={"Origin": "https://example.com"})
    assert not any(h.lower().startswith("access-control-") for h in response.headers)
    preflight = http.options(
        "/api/remove",
        headers={"Origin": "https://example.com", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in preflight.headers


def test_cors_only_for_the_named_origin(triton_server) -> None:
    config = config_for(triton_server.grpc_url, cors_origins=("https://app.example",))
    with serve(config) as served, served.client() as client:
        allowed = client.get("/healthz", headers={"Origin": "https://app.example"})
        other = client.get("/healthz", headers={"Origin": "https://evil.example"})
        preflight = client.options(
            "/v1.0/removebg",
            headers={
                "Origin": "https://app.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "X-Api-Key",
            },
        )
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    assert "access-control-allow-origin" not in other.headers
    assert preflight.status_code == 200
    assert "x-api-key" in preflight.headers["access-control-allow-headers"].lower()
