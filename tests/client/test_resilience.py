"""Replicas and restarts, with real servers: one gRPC target balanced over two servers, a
server lost mid-folder, and a server restarted mid-folder. No image may be lost."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import tritonclient.grpc as grpcclient

from client.triton import TritonModel
from server.embedded import RunningServer, start
from tests import clip
from tests.data import PHOTOS
from tests.servers import retire
from u2net.samples import sample_inputs

MODEL = "u2netp"
SERVED = "u2netp_onnx"
# A folder's images: enough that each cut is still mid-folder when its server stops. With the
# only server stopped, each cut (two requests in flight) has at most a few more; with one of
# two replicas stopped, the other serves on through the seconds the stop takes.
RESTART_IMAGES = 16
LOSE_ONE_IMAGES = 24
ROOT = Path(__file__).resolve().parents[2]


def _folder(tmp_path: Path, count: int) -> Path:
    """``count`` small photos (copies of the samples, scaled down to keep the test short)."""
    from PIL import Image

    photos = tmp_path / "in"
    photos.mkdir()
    for i in range(count):
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


class Replicas:
    """Two real servers for the whole module (starting one costs seconds). Tests restart or
    stop them in place; the order of the tests below is the order they run in, so the test
    that loses a replica for good comes last."""

    def __init__(self) -> None:
        self.servers: list[RunningServer] = [start(["--models", SERVED], timeout=120)]
        self.servers.append(start(["--models", SERVED], timeout=120))

    def restart(self, index: int) -> RunningServer:
        """Stop server ``index`` and start a new one on the same ports (a rolling restart)."""
        old = self.servers[index]
        old.stop()
        ports = (old.grpc_port, old.http_port, old.metrics_port)
        self.servers[index] = start(["--models", SERVED], timeout=120, ports=ports)
        return self.servers[index]

    def stop(self) -> None:
        for server in self.servers:
            server.stop()


@pytest.fixture(scope="module")
def replicas() -> Iterator[Replicas]:
    started = Replicas()
    try:
        yield started
    finally:
        retire(*started.servers)


def test_statistics_of_a_listed_target_sum_both_replicas(replicas: Replicas) -> None:
    first, second = replicas.servers
    before = (_requests(first), _requests(second))
    model = TritonModel(f"ipv4:{first.grpc_url},{second.grpc_url}", SERVED)
    _names, images = sample_inputs()
    try:
        for image in images:
            model.infer(image[None])
        # Triton counts a request when it releases it, a moment after the response is sent.
        _until_counted(first, second, sum(before) + len(images))
        merged = model.statistics()["model_stats"][0]
    finally:
        model.close()
    assert _requests(first) > before[0] and _requests(second) > before[1]  # both reached
    assert int(merged["inference_count"]) == _requests(first) + _requests(second)
    assert _requests(first) + _requests(second) == sum(before) + len(images)


def _until_counted(first: RunningServer, second: RunningServer, total: int) -> None:
    deadline = time.monotonic() + 10.0
    while _requests(first) + _requests(second) < total:
        assert time.monotonic() < deadline, f"expected {total} requests counted"
        time.sleep(0.05)


def _frames(target: str, out: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "client", "frames", *map(str, clip.SIZE)]
    command += ["-o", str(out / "f-%03d.png"), "--url", target]
    command += ["--model", MODEL, "--timeout", "90", "-q"]
    return subprocess.Popen(command, cwd=ROOT, stdin=subprocess.PIPE, stderr=subprocess.PIPE)


def test_a_server_restarted_mid_work_loses_no_image_nor_frame(
    replicas: Replicas, tmp_path: Path
) -> None:
    """One rolling restart (SIGTERM, then a new server on the same ports) with three callers
    mid-work: a folder cut client-side, one through ``cutout`` (``--server-side``), and a
    ``frames`` stream of which half is sent before the restart and half after. Every image
    and every frame is written, each frame under its own index."""
    url = replicas.servers[0].grpc_url
    folder = _folder(tmp_path, RESTART_IMAGES)
    outs = {side: tmp_path / side for side in ("client-side", "server-side")}
    cuts = {side: _cut(url, folder, out, *(["--server-side"] * (side == "server-side")))
            for side, out in outs.items()}  # fmt: skip
    frames = clip.pan_frames()
    half = len(frames) // 2
    stream = _frames(url, tmp_path / "frames")
    running = [*cuts.values(), stream]
    try:
        stream.stdin.write(clip.raw_stream(frames[:half]))
        stream.stdin.flush()
        for out in outs.values():
            _when_some_are_done(out)
        _when_some_are_done(tmp_path / "frames", count=2)
        replicas.servers[0].stop()
        assert all(p.poll() is None for p in running)  # still waiting for the server
        assert all(len(list(out.glob("*.png"))) < RESTART_IMAGES for out in outs.values())
        replicas.restart(0)
        _stdout, stream_err = stream.communicate(clip.raw_stream(frames[half:]), timeout=180)
        errors = {side: cut.communicate(timeout=180)[1] for side, cut in cuts.items()}
    finally:
        for process in running:
            if process.poll() is None:
                process.kill()
    for side, cut in cuts.items():
        assert cut.returncode == 0, (side, errors[side])
        assert len(list(outs[side].glob("*.png"))) == RESTART_IMAGES, side
        assert not list(outs[side].rglob("*.part")), side
    assert stream.returncode == 0, stream_err.decode()
    names = sorted(p.name for p in (tmp_path / "frames").glob("*.png"))
    assert names == [f"f-{i:03d}.png" for i in range(len(frames))]


def test_one_target_spreads_over_both_and_survives_losing_one(
    replicas: Replicas, tmp_path: Path
) -> None:
    first, second = replicas.servers
    folder = _folder(tmp_path, LOSE_ONE_IMAGES)
    before = (_requests(first), _requests(second))
    out = tmp_path / "out"
    cut = _cut(f"ipv4:{first.grpc_url},{second.grpc_url}", folder, out, "--concurrency", "4")
    _when_some_are_done(out, count=6)
    assert _requests(first) > before[0] and _requests(second) > before[1]  # round-robin
    second.stop()  # a replica goes away mid-folder, for good
    assert cut.poll() is None and len(list(out.glob("*.png"))) < LOSE_ONE_IMAGES
    _stdout, stderr = cut.communicate(timeout=180)
    assert cut.returncode == 0, stderr
    assert sorted(p.name for p in out.glob("*.png")) == sorted(
        f"{p.stem}.out.png" for p in folder.glob("*.png")
    )


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
