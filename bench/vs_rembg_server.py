"""``python -m web`` against rembg's own server, ``rembg s``, over HTTP, in one run.

    .venv/bin/python bench/vs_rembg_server.py                       # u2net (+ u2net_int8 if staged)
    .venv/bin/python bench/vs_rembg_server.py --seconds 20 --rounds 2 --concurrency 1,4

rembg 2.0.86 runs from its own venv (``.venv-rembg``, made by bench/client_vs_rembg.py's
``ensure_rembg``; it wants numpy 2) on the very same ``u2net.onnx`` from ``$U2NET_HOME``,
with its defaults (``rembg s --no-ui``). Ours is ``python -m web`` in front of the embedded
Triton (``python -m server --models u2net_onnx[,u2net_int8]``), with its defaults too.
Both get the same photos (scikit-image's, JPEG at their own size), ``POST /api/remove`` with
the file as multipart ``file`` and ``model``, from closed loops of ``c`` clients.

Rounds interleave everything (each round: every concurrency × every server, in turn), so
drift on a shared machine hits each side alike; the table shows the median over rounds of
images per second and our ratio to rembg's at the same concurrency.
"""

from __future__ import annotations

import argparse
import io
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from client_vs_rembg import REMBG, ensure_rembg  # beside this script
from PIL import Image

from client.load.loadgen import drive
from server.embedded import start
from server.launch import ReadyChild, free_ports, spawn_until_ready
from server.models import scan
from u2net.catalogue import ONNX_SUFFIX
from u2net.report import table
from u2net.repository.layout import default_repository
from u2net.samples import sample_photos


def base_name(served: str) -> str:
    """The name a rembg caller sends: ``u2net`` for ``u2net_onnx``; variants as served."""
    return served.removesuffix(ONNX_SUFFIX)


ROOT = Path(__file__).resolve().parents[1]
READY_TIMEOUT_S = 300.0
REQUEST_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class Target:
    label: str
    url: str  # the server's base URL
    model: str  # the ``model`` form field


def jpeg_photos(folder: Path) -> list[bytes]:
    """scikit-image's sample photos as JPEG files' bytes (what a caller uploads)."""
    photos = []
    for path in sample_photos():
        buffer = io.BytesIO()
        Image.open(path).convert("RGB").save(buffer, format="JPEG", quality=92)
        photos.append(buffer.getvalue())
    return photos


def wait_for_http(url: str, process: subprocess.Popen, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the server exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)  # a bench polling a child's start-up, not a test
    raise RuntimeError(f"{url}: not answering after {timeout_s:.0f}s")


def start_rembg(port: int) -> subprocess.Popen:
    command = [str(REMBG), "s", "--host", "127.0.0.1", "--port", str(port), "--no-ui"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_http(f"http://127.0.0.1:{port}/api", process, READY_TIMEOUT_S)
    return process


def start_ours(triton_url: str, port: int) -> ReadyChild:
    command = [sys.executable, "-m", "web", "--triton-url", triton_url, "--port", str(port)]
    return spawn_until_ready(
        [*command, "-q"], READY_TIMEOUT_S, env={**os.environ, "PYTHONPATH": str(ROOT)}
    )


def images_per_s(target: Target, photos: list[bytes], concurrency: int, seconds: float) -> float:
    """Closed loops of ``concurrency`` clients for ``seconds``; every answer must be a 200."""
    clients = [httpx.Client(timeout=REQUEST_TIMEOUT_S) for _ in range(concurrency)]
    turn = itertools.count()

    def send(i: int) -> None:
        client = clients[next(turn) % concurrency]
        response = client.post(
            f"{target.url}/api/remove",
            files={"file": ("photo.jpg", photos[i % len(photos)], "image/jpeg")},
            data={"model": target.model},
        )
        if response.status_code != 200:
            raise RuntimeError(f"{target.label}: HTTP {response.status_code} {response.text}")

    try:
        window = drive(send, count=10**9, concurrency=concurrency, seconds=seconds)
    finally:
        for client in clients:
            client.close()
    return len(window.latencies_s) / window.seconds


def measure(targets: list[Target], photos: list[bytes], args: argparse.Namespace) -> dict:
    for target in targets:  # warm: rembg loads its session on the first request
        images_per_s(target, photos[:1], 1, 0.1)
    runs: dict[tuple[str, int], list[float]] = {}
    for _round in range(args.rounds):
        for concurrency in args.concurrency:
            for target in targets:
                rate = images_per_s(target, photos, concurrency, args.seconds)
                runs.setdefault((target.label, concurrency), []).append(rate)
    return {key: statistics.median(values) for key, values in runs.items()}


def rows(rates: dict, targets: list[Target], concurrency: list[int]) -> list[list[str]]:
    reference = targets[-1].label  # rembg s
    out = []
    for c in concurrency:
        for target in targets:
            rate = rates[(target.label, c)]
            ratio = rate / rates[(reference, c)]
            out.append([target.label, str(c), f"{rate:.2f}", f"{ratio:.2f}×"])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", default="1,2,4")
    parser.add_argument("--seconds", type=float, default=60.0, help="per measurement")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    ensure_rembg()
    staged = {e.name for e in scan(default_repository()) if e.staged}
    ours = [m for m in ("u2net_onnx", "u2net_int8") if m in staged]
    with tempfile.TemporaryDirectory(prefix="bench-vs-rembg-") as tmp:
        photos = jpeg_photos(Path(tmp))
        triton = start(["--models", ",".join(ours)], timeout=READY_TIMEOUT_S)
        ours_port, rembg_port = free_ports(2)
        web = start_ours(triton.grpc_url, ours_port)
        rembg = start_rembg(rembg_port)
        try:
            targets = [
                *(
                    Target(f"python -m web {m}", f"http://127.0.0.1:{ours_port}", base_name(m))
                    for m in ours
                ),
                Target("rembg s u2net", f"http://127.0.0.1:{rembg_port}", "u2net"),
            ]
            rates = measure(targets, photos, args)
        finally:
            rembg.terminate()
            rembg.wait(timeout=30)
            web.stop()
            triton.stop()
    print(
        table(["server, model", "c", "img/s", "vs rembg s"], rows(rates, targets, args.concurrency))
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
