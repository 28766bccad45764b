"""/healthz, /readyz, /metrics; Triton down past the breaker's grace: 503 at once on the API
(/readyz stays 200 and shows the breaker), and recovery without restarting the gateway once
Triton is back."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import httpx
import pytest
import tritonclient.http as httpclient
from prometheus_client.parser import text_string_to_metric_families
from tritonclient.utils import InferenceServerException

from client.breaker import BreakerPolicy
from server.command import ADMIN_HEADER, ADMIN_KEY_ENV
from server.embedded import start
from server.launch import free_ports
from tests.data import PHOTOS, REPOSITORY
from tests.servers import retire
from tests.web.serving import MODEL, config_for, serve
from u2net.contract import CUTOUT

PHOTO = PHOTOS[1]
MODEL_SERVED = f"{MODEL}_onnx"


def cut(client):
    files = {"file": (PHOTO.name, PHOTO.read_bytes())}
    return client.post("/api/remove", files=files, data={"model": MODEL})


def samples(text: str) -> dict[tuple[str, tuple], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_health_and_readiness(http, gateway) -> None:
    assert http.get("/healthz").json() == {"status": "ok"}
    ready = http.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    triton = ready.json()["triton"]
    assert {k: triton[k] for k in ("url", "breaker")} == {
        "url": gateway.config.triton_url,
        "breaker": "closed",
    }
    assert "failing_for_s" not in triton


def test_metrics_count_requests_bytes_latency_and_rejections(http) -> None:
    before = samples(http.get("/metrics").text)
    assert cut(http).status_code == 200
    assert http.post("/api/remove", files={"file": ("x.jpg", b"no")}).status_code == 400
    after = samples(http.get("/metrics").text)
    ok = ("web_requests_total", (("method", "POST"), ("route", "/api/remove"), ("status", "200")))
    bad = ("web_requests_total", (("method", "POST"), ("route", "/api/remove"), ("status", "400")))
    assert after[ok] - before.get(ok, 0) == 1 and after[bad] - before.get(bad, 0) == 1
    rejected = ("web_rejections_total", (("reason", "invalid_request"),))
    assert after[rejected] - before.get(rejected, 0) == 1
    body_in = ("web_request_body_bytes_total", ())
    assert after[body_in] - before[body_in] > PHOTO.stat().st_size
    assert (
        after[("web_response_body_bytes_total", ())] > before[("web_response_body_bytes_total", ())]
    )
    latency = ("web_request_duration_seconds_count", (("route", "/api/remove"),))
    assert after[latency] - before.get(latency, 0) == 2
    assert after[("web_triton_in_flight", ())] == 0 and after[("web_queue_length", ())] == 0


def test_unknown_paths_share_one_label(http) -> None:
    for path in ("/nope/1", "/nope/2"):
        assert http.get(path).status_code == 404
    text = http.get("/metrics").text
    assert 'route="unmatched"' in text and "/nope/" not in text


def test_ready_while_cutout_is_though_another_model_failed_to_load(tmp_path: Path) -> None:
    """Triton's strict readiness says "not ready" once any model failed to load (as a stale
    TensorRT plan does under compose); the gateway needs only ``cutout`` and stays ready."""
    repository = tmp_path / "repository"
    for name in (CUTOUT.name, MODEL_SERVED):
        shutil.copytree(
            REPOSITORY / name, repository / name, ignore=shutil.ignore_patterns("__pycache__")
        )
    broken = repository / "broken_onnx"
    (broken / "1").mkdir(parents=True)
    config = (REPOSITORY / MODEL_SERVED / "config.pbtxt").read_text()
    (broken / "config.pbtxt").write_text(config.replace(MODEL_SERVED, broken.name))
    (broken / "1" / "model.onnx").write_bytes(b"not an ONNX graph")
    models = ["--models", f"{MODEL_SERVED},{CUTOUT.name}", "--model-repository", str(repository)]
    triton = start([*models, "--allow-model-control"], env={**os.environ, ADMIN_KEY_ENV: "k"})
    try:
        # closed before Triton stops: an open HTTP connection holds its exit for 30 s
        with httpclient.InferenceServerClient(triton.http_url) as admin:  # plain header
            with pytest.raises(InferenceServerException, match="load failed for model 'broken"):
                admin.load_model(broken.name, headers={ADMIN_HEADER: "k"})
            assert not admin.is_server_ready() and admin.is_model_ready(CUTOUT.name)
        with serve(config_for(triton.grpc_url)) as served, served.client() as client:
            assert client.get("/readyz").status_code == 200
            assert cut(client).status_code == 200
    finally:
        retire(triton)


def breaker(client) -> str:
    """The breaker's state as /readyz says it, checked against /metrics read between two
    /readyz reads that agree (the watcher may move it between two requests)."""
    while True:
        state = client.get("/readyz").json()["triton"]["breaker"]
        exposed = samples(client.get("/metrics").text)
        if client.get("/readyz").json()["triton"]["breaker"] == state:
            break
    assert exposed[("web_triton_breaker", (("web_triton_breaker", state),))] == 1
    return state


def until_breaker(client, *states: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while breaker(client) not in states:
        assert time.monotonic() < deadline, f"expected the breaker {' or '.join(states)}"
        time.sleep(0.1)


def test_triton_gone_past_the_grace_is_503_at_once_and_back_closes_the_breaker() -> None:
    """Triton stopped for good: once the grace is over the watcher opens the breaker, and a
    request (whose own deadline is a minute) is refused at once with Retry-After while
    /readyz stays 200 and says so; Triton back, a probe closes the breaker."""
    ports = tuple(free_ports(3))
    triton = start(["--models", "u2netp_onnx"], ports=ports)  # type: ignore[arg-type]
    policy = BreakerPolicy(grace_s=1.0, probe_interval_s=0.5)
    try:
        config = config_for(triton.grpc_url, timeout_s=60.0, breaker=policy)
        with serve(config) as served, served.client() as client:
            assert cut(client).status_code == 200 and breaker(client) == "closed"
            triton.stop()
            # open, or half-open while a probe is out: with Triton gone each probe retries
            # for its 2 s, longer than the interval, so open lasts a moment between probes
            until_breaker(client, "open", "half_open")
            refused = httpx.post(
                f"{served.url}/api/remove", files={"file": (PHOTO.name, PHOTO.read_bytes())},
                data={"model": MODEL}, timeout=20.0,  # far less than the request's deadline
            )  # fmt: skip
            assert refused.status_code == 503 and int(refused.headers["Retry-After"]) >= 1
            assert "is down" in refused.json()["detail"]
            ready = client.get("/readyz")
            assert ready.status_code == 200 and ready.json()["triton"]["failing_for_s"] > 1.0
            triton = start(["--models", "u2netp_onnx"], ports=ports)  # type: ignore[arg-type]
            until_breaker(client, "closed")
            assert cut(client).status_code == 200
    finally:
        retire(triton)
