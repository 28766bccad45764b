"""Replicas and restarts, with real servers: one gRPC target balanced over two servers, a
server lost mid-folder, and a server restarted mid-folder. No image may be lost."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import tritonclient.grpc as grpcclient

from client.triton import TritonModel
from tests.data import PHOTOS
from u2net.embedded import RunningServer, start
from u2net.samples import sample_inputs

MODEL = "u2netp"
SERVED = "u2netp_onnx"
IMAGES = 24
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """``IMAGES`` small photos (copies of the samples, scaled down to keep the test short)."""
    from PIL import Image

    photos = tmp_path / "in"
    photos.mkdir()
    for i in range(IMAGES):
        source = PHOTOS[i % len(PHOTOS)]
        Image.open(source).convert("RGB").resize((160, 120)).save(photos / f"{i:02d}.png")
    return photos


def _cut(target: str, folder: Path, out: Path, *flags: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "client", "cut", str(folder), "-o", str(out)]
    command += ["--url", target, "--model", MODEL, "--timeout", "90", "-q", *flags]
    return subprocess.Popen(command, cwd=ROOT, stderr=subprocess.PIPE, text=True)


def _when_some_are_done(out: Path, count: int = 3, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while len(list(out.glob("*.png"))) < count:
        assert time.monotonic() < deadline, "the cut made no progress"
        time.sleep(0.05)


def _requests(server: RunningServer, model: str = SERVED) -> int:
    stats = grpcclient.InferenceServerClient(server.grpc_url).get_inference_statistics(
        model, as_json=True
    )
    return int(stats["model_stats"][0].get("inference_count", 0))


@pytest.fixture
def two_servers() -> Iterator[tuple[RunningServer, RunningServer]]:
    first = start(["--models", SERVED], timeout=120)
    try:
        second = start(["--models", SERVED], timeout=120)
    except BaseException:
        first.stop()
        raise
    try:
        yield first, second
    finally:
        first.stop()
        second.stop()


def test_one_target_spreads_over_both_and_survives_losing_one(
    two_servers: tuple[RunningServer, RunningServer], folder: Path, tmp_path: Path
) -> None:
    first, second = two_servers
    out = tmp_path / "out"
    cut = _cut(f"ipv4:{first.grpc_url},{second.grpc_url}", folder, out, "--concurrency", "4")
    _when_some_are_done(out, count=6)
    assert _requests(first) > 0 and _requests(second) > 0  # round-robin reached both
    second.stop()  # a replica goes away mid-folder
    assert cut.poll() is None and len(list(out.glob("*.png"))) < IMAGES
    _stdout, stderr = cut.communicate(timeout=180)
    assert cut.returncode == 0, stderr
    assert sorted(p.name for p in out.glob("*.png")) == sorted(
        f"{p.stem}.out.png" for p in folder.glob("*.png")
    )


@pytest.mark.parametrize("flags", [[], ["--server-side"]], ids=["client-side", "server-side"])
def test_a_server_restarted_mid_folder_loses_no_image(
    folder: Path, tmp_path: Path, flags: list[str]
) -> None:
    server = start(["--models", SERVED], timeout=120)
    ports = (server.grpc_port, server.http_port, server.metrics_port)
    out = tmp_path / "out"
    cut = _cut(server.grpc_url, folder, out, *flags)
    try:
        _when_some_are_done(out)
        server.stop()  # SIGTERM: a rolling restart
        assert cut.poll() is None and len(list(out.glob("*.png"))) < IMAGES  # mid-folder
        server = start(["--models", SERVED], timeout=120, ports=ports)
        _stdout, stderr = cut.communicate(timeout=180)
    finally:
        server.stop()
        if cut.poll() is None:
            cut.kill()
    assert cut.returncode == 0, stderr
    assert len(list(out.glob("*.png"))) == IMAGES
    assert not list(out.rglob("*.part"))
    shutil.rmtree(out)


def test_statistics_of_a_listed_target_sum_both_replicas(
    two_servers: tuple[RunningServer, RunningServer],
) -> None:
    first, second = two_servers
    model = TritonModel(f"ipv4:{first.grpc_url},{second.grpc_url}", SERVED)
    _names, images = sample_inputs()
    try:
        for image in images:
            model.infer(image[None])
        # Triton counts a request when it releases it, a moment after the response is sent.
        _until_counted(first, second, len(images))
        merged = model.statistics()["model_stats"][0]
    finally:
        model.close()
    assert _requests(first) > 0 and _requests(second) > 0
    assert int(merged["inference_count"]) == _requests(first) + _requests(second) == len(images)


def _until_counted(first: RunningServer, second: RunningServer, total: int) -> None:
    deadline = time.monotonic() + 10.0
    while _requests(first) + _requests(second) < total:
        assert time.monotonic() < deadline, f"expected {total} requests counted"
        time.sleep(0.05)


def test_a_dns_target_reaches_the_server(triton_server: RunningServer) -> None:
    """The gateway's target in Kubernetes is ``dns:///<headless service>:8001``; here the
    name is localhost, resolved by gRPC's own resolver."""
    model = TritonModel(f"dns:///localhost:{triton_server.grpc_port}", SERVED)
    _names, images = sample_inputs()
    try:
        masks = model.infer(images[:1])
    finally:
        model.close()
    assert masks.shape == (1, *images.shape[1:3])
    assert int(masks.max()) > 0 and int(masks.min()) < 255  # a real mask, not a constant
