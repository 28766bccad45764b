"""The gateway's memory budget under its worst case, and what it costs normal photos.

    .venv/bin/python bench/web_memory.py                   # defaults: python -m web as is
    .venv/bin/python bench/web_memory.py --budgets 2048,1000000 --seconds 60

One real Triton (``python -m server``: every model in model_repository/, as ``python -m web``
starts it with no flags) and, in front of it, a real ``python -m web`` per ``--budgets``
value (MB; the first is the one under test, the default). Then:

- **worst case**: ``--requests`` concurrent remove.bg requests of the largest photo the
  defaults take: a 10000x10000 RGBA PNG (scikit-image's astronaut at 500x500, each pixel
  a 20x20 block, so that both files fit the 25 MB upload limit), the same file as
  ``bg_image_file``, ``add_shadow=true``,
  ``scale=50%``, ``size=full``, through the first gateway. Triton's whole process tree
  (RSS summed over its processes, sampled every 0.2 s) at rest and at its peak; each
  answer's status.
- **normal photos**: ``--users`` closed loops POSTing a 12 MP JPEG to ``/api/remove``,
  through each gateway in turn, ``--rounds`` windows of ``--seconds`` each: images per
  second, the mean of each gateway's windows.

Prints Markdown tables (docs/api.md, "Memory").
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import httpx
from cutout import tree_rss_mb  # bench/cutout.py, beside this script
from PIL import Image

from server.embedded import start
from server.launch import ReadyChild, free_ports, spawn_until_ready
from u2net.report import table

ROOT = Path(__file__).resolve().parents[1]
SIDE = 10000
FIELDS = {"add_shadow": "true", "scale": "50%", "size": "full"}


def worst_photo() -> bytes:
    from skimage import data

    picture = Image.fromarray(data.astronaut()).convert("RGBA").resize((500, 500))
    picture = picture.resize((SIDE, SIDE), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", compress_level=9)
    return buffer.getvalue()


def normal_photo() -> bytes:
    from skimage import data

    picture = Image.fromarray(data.chelsea()).resize((4240, 2832), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def gateway(triton_url: str, budget_mb: int) -> tuple[ReadyChild, str]:
    (port,) = free_ports(1)
    command = [sys.executable, "-m", "web", "--port", str(port), "-q", "--triton-url", triton_url]
    command += ["--memory-budget-mb", str(budget_mb)]
    child = spawn_until_ready(command, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return child, f"http://127.0.0.1:{port}"


def worst_case(url: str, pid: int, photo: bytes, requests: int) -> list[object]:
    """Statuses and the tree's rest and peak RSS (MB) under ``requests`` at once."""
    rest, peak, stop = tree_rss_mb(pid), [0.0], threading.Event()

    def sample() -> None:
        while not stop.wait(0.2):
            peak[0] = max(peak[0], tree_rss_mb(pid))

    def post(_: int) -> tuple[int, str]:
        files = {"image_file": ("a.png", photo), "bg_image_file": ("b.png", photo)}
        with httpx.Client(base_url=url, timeout=600) as client:
            response = client.post("/v1.0/removebg", files=files, data=FIELDS)
        return response.status_code, response.headers.get("Retry-After", "")

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    with ThreadPoolExecutor(requests) as pool:
        answers = list(pool.map(post, range(requests)))
    seconds = time.perf_counter() - started
    stop.set()
    sampler.join()
    statuses = " ".join(f"{s}" + (f" (Retry-After {r})" if r else "") for s, r in answers)
    return [statuses, f"{rest:.0f}", f"{peak[0]:.0f}", f"{seconds:.0f}"]


def throughput(url: str, photo: bytes, users: int, seconds: float) -> float:
    """Images per second of ``users`` closed loops for ``seconds``."""
    done, deadline = [0], time.monotonic() + seconds

    def loop() -> None:
        with httpx.Client(base_url=url, timeout=120) as client:
            while time.monotonic() < deadline:
                files = {"file": ("a.jpg", photo)}
                response = client.post("/api/remove", files=files, data={"model": "u2net"})
                response.raise_for_status()
                done[0] += 1

    threads = [threading.Thread(target=loop) for _ in range(users)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return done[0] / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budgets", default="2048,1000000", help="MB, comma-separated")
    parser.add_argument("--requests", type=int, default=4, help="worst-case requests at once")
    parser.add_argument("--users", type=int, default=4, help="normal photos' concurrency")
    parser.add_argument("--seconds", type=float, default=30.0, help="per window")
    parser.add_argument("--rounds", type=int, default=3, help="windows per gateway")
    args = parser.parse_args()
    budgets = [int(b) for b in args.budgets.split(",")]
    worst, normal = worst_photo(), normal_photo()
    print(f"{os.uname().machine}, {os.cpu_count()} cores, {date.today()}; worst-case PNG "
          f"{len(worst) / 1e6:.1f} MB, normal JPEG {len(normal) / 1e6:.1f} MB\n")  # fmt: skip
    triton = start(timeout=300)
    gateways = []
    try:
        gateways = [gateway(triton.grpc_url, budget) for budget in budgets]
        row = worst_case(gateways[0][1], triton.process.pid, worst, args.requests)
        headers = ["budget MB", "statuses", "Triton at rest MB", "Triton peak MB", "seconds"]
        print(table(headers, [[budgets[0], *row]]) + "\n", flush=True)
        rates: dict[int, list[float]] = {budget: [] for budget in budgets}
        for _ in range(args.rounds):
            for budget, (_, url) in zip(budgets, gateways, strict=True):
                rates[budget].append(throughput(url, normal, args.users, args.seconds))
        rows = [
            [budget, args.users, f"{sum(r) / len(r):.2f}", " ".join(f"{x:.2f}" for x in r)]
            for budget, r in rates.items()
        ]
        print(table(["budget MB", "concurrency", "12 MP images/s", "windows"], rows))
    finally:
        for child, _ in gateways:
            child.stop()
        triton.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
