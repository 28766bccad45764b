"""``python -m web`` under load: HTTP (locust, headless) against the gRPC path on one Triton.

    .venv/bin/python bench/web.py                          # u2net, c = 1, 4, 16, 600 s soak
    .venv/bin/python bench/web.py --seconds 20 --soak-seconds 60 --model u2netp

A real ``python -m server`` (embedded Triton) serves the model and ``cutout``; a real
``python -m web`` runs in front of it. For each photo (about 1 MP and 12 MP, JPEG) and each
concurrency, for ``--seconds`` each, closed loops:
  HTTP  locust users POST the file to ``/api/remove`` (``model=u2net``)
  gRPC  threads run ``python -m client cut --server-side``'s call (``ServerSideCutter``)
Then the RSS of the gateway and of each part of Triton's tree (server, each model's stubs) is
sampled every second during ``--soak-seconds`` of 12 MP uploads at concurrency 16 (5-minute
means, peak, drift over the last 40 minutes), and an overload burst (``--overload-users``)
counts 200s and 503s and checks the gateway is still alive. Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from cutout import rss_by_part_mb  # bench/cutout.py, beside this script
from PIL import Image

from client.cutout import ServerSideCutter
from client.load.loadgen import Window, drive
from server.embedded import start
from server.launch import ReadyChild, free_ports, spawn_until_ready
from u2net.options import OutputOptions
from u2net.report import table
from u2net.samples import PROBE_NAME, sample_photos

ROOT = Path(__file__).resolve().parents[1]
LOCUSTFILE = Path(__file__).resolve().parent / "web_locustfile.py"
SIZES = {"1 MP": (1155, 866), "12 MP": (4000, 3000)}
PAGE_KB = 4
FLAT_TAIL_S = 40 * 60.0  # "flat" is judged over the soak's last 40 minutes (or all of it)
HEADERS = ["photo", "c", "HTTP img/s", "gRPC img/s", "HTTP/gRPC",
           "HTTP p50/p95/p99 ms", "gRPC p50/p95/p99 ms", "HTTP errors"]  # fmt: skip
BLOCK_S = 5 * 60  # the soak's memory is reported as the mean of each 5-minute block


def make_photos(folder: Path) -> dict[str, Path]:
    astronaut = Image.open(sample_photos((PROBE_NAME,))[0]).convert("RGB")
    photos = {}
    for label, size in SIZES.items():
        photos[label] = folder / f"astronaut-{size[0]}x{size[1]}.jpg"
        astronaut.resize(size, Image.Resampling.LANCZOS).save(photos[label], quality=92)
    return photos


def rss_mb(pid: int) -> float:
    pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    return pages * PAGE_KB / 1024


def _ms(text: str) -> float:
    return float("nan") if text == "N/A" else float(text)


def locust(url: str, photo: Path, model: str, users: int, seconds: float, *, out: Path) -> dict:
    """One headless locust run; its aggregated row (count, failures, percentiles, req/s).

    Requests in flight at the end are let finish (``--stop-timeout``) and counted, as the gRPC
    loop does, so long 12 MP requests do not bias the throughput down."""
    prefix = out / f"locust-{photo.stem}-{users}"
    command = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--only-summary",
        "-u", str(users), "-r", str(users), "-t", f"{int(seconds)}s", "--host", url,
        "--csv", str(prefix), "--loglevel", "WARNING", "--stop-timeout", "600",
    ]  # fmt: skip
    env = {**os.environ, "BENCH_PHOTO": str(photo), "BENCH_MODEL": model}
    subprocess.run(command, env=env, check=False, capture_output=True, text=True)
    with open(f"{prefix}_stats.csv", newline="") as f:
        row = next(r for r in csv.DictReader(f) if r["Name"] == "Aggregated")
    return {
        "requests": int(row["Request Count"]), "failures": int(row["Failure Count"]),
        "p50": _ms(row["50%"]), "p95": _ms(row["95%"]), "p99": _ms(row["99%"]),
        "rps": float(row["Requests/s"]),
    }  # fmt: skip


def grpc_for(url: str, model: str, photo: Path, users: int, seconds: float) -> Window:
    """Closed loops of ``cut --server-side``'s call for ``seconds`` (loadgen's drive)."""
    cutter = ServerSideCutter(url, model, concurrency=users)
    try:
        return drive(
            lambda _i: cutter.cut_file(photo, OutputOptions()), 10**9, users, seconds=seconds
        )
    finally:
        cutter.close()


def compare(web_url: str, grpc_url: str, photos: dict[str, Path], args, out: Path) -> list:
    rows = []
    for label, photo in photos.items():
        for users in args.concurrency:
            locust(web_url, photo, args.model, users, min(5, args.seconds), out=out)  # warm-up
            http = locust(web_url, photo, args.model, users, args.seconds, out=out)
            grpc = grpc_for(grpc_url, args.model, photo, users, args.seconds)
            rows.append(
                [
                    label,
                    users,
                    http["rps"],
                    grpc.throughput,
                    http["rps"] / grpc.throughput,
                    f"{http['p50']:.0f} / {http['p95']:.0f} / {http['p99']:.0f}",
                    " / ".join(f"{grpc.percentile_ms(q):.0f}" for q in (50, 95, 99)),
                    http["failures"],
                ]
            )
            print(rows[-1], file=sys.stderr, flush=True)
    return rows


Sample = dict[str, float]  # MB per part: "gateway", "tritonserver", "stub <model>", ...


def soak(
    web: ReadyChild, triton_pid: int, url: str, photo: Path, *, args, out: Path
) -> tuple[list[Sample], dict]:
    """12 MP uploads at c=16; every second, the resident memory of the gateway and of each
    part of Triton's tree (the server, each model's Python-backend stubs), in MB."""

    def rss() -> Sample:
        return {"gateway": rss_mb(web.process.pid), **rss_by_part_mb(triton_pid)}

    samples, stop = [rss()], threading.Event()

    def sample() -> None:
        while not stop.wait(1.0):
            samples.append(rss())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    result = locust(url, photo, args.model, 16, args.soak_seconds, out=out)
    stop.set()
    sampler.join()
    return samples, result


def block_means(series: list[float], block_s: int = BLOCK_S) -> list[float]:
    """Mean of each whole ``block_s``-second block of per-second samples (the last partial
    block dropped): the level under load, without the swing of buffers in flight."""
    whole = len(series) // block_s
    return [sum(series[i * block_s : (i + 1) * block_s]) / block_s for i in range(whole)]


def drift_percent(series: list[float]) -> float:
    """How far the memory moved over the last ``FLAT_TAIL_S``: the spread of its 5-minute
    block means, as a percentage of the lowest ("flat within 5 %" is ≤ 5)."""
    means = block_means(series[-int(FLAT_TAIL_S) :])
    return (max(means) - min(means)) / min(means) * 100 if means else float("nan")


def drift(series: list[float]) -> str:
    return f"{drift_percent(series):.1f} %"


def soak_lines(samples: list[Sample], soaked: dict, seconds: float) -> str:
    """Per part and for Triton's whole tree: start, peak, the 5-minute block means, and the
    drift of those means over the last 40 minutes (issue 21's "flat within 5 %")."""
    lines = [f"soak: {seconds:g} s of 12 MP at c=16: {soaked['requests']} requests, "
             f"{soaked['failures']} failed"]  # fmt: skip
    parts = sorted({part for s in samples for part in s} - {"gone"})
    triton_parts = [p for p in parts if p != "gateway"]
    columns = {p: [s.get(p, 0.0) for s in samples] for p in parts}
    columns["Triton (all)"] = [sum(s.get(p, 0.0) for p in triton_parts) for s in samples]
    blocks = len(block_means(columns["gateway"]))
    headers = ["MB", *(f"{i * BLOCK_S // 60}-{(i + 1) * BLOCK_S // 60} min" for i in
               range(blocks)), "peak", "drift, last 40 min"]  # fmt: skip
    rows = [
        [who, *(f"{m:.0f}" for m in block_means(series)), f"{max(series):.0f}", drift(series)]
        for who, series in columns.items()
    ]
    lines.append(table(headers, rows))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="u2net", help="model the requests name")
    parser.add_argument("--concurrency", default="1,4,16", help='"" skips the sweep')
    parser.add_argument("--seconds", type=float, default=60.0, help="per measurement")
    parser.add_argument("--soak-seconds", type=float, default=600.0, help="0 skips the soak")
    parser.add_argument("--overload-users", type=int, default=48, help="0 skips the burst")
    args = parser.parse_args(argv)
    args.concurrency = [int(c) for c in args.concurrency.split(",") if c]  # "": soak only
    with tempfile.TemporaryDirectory(prefix="bench-web-") as tmp:
        out = Path(tmp)
        photos = make_photos(out)
        triton = start(["--models", f"{args.model}_onnx"], timeout=300)
        (port,) = free_ports(1)
        web = spawn_until_ready(
            [
                sys.executable,
                "-m",
                "web",
                "--triton-url",
                triton.grpc_url,
                "--port",
                str(port),
                "-q",
            ],
            timeout=120,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        url = f"http://127.0.0.1:{port}"
        try:
            rows = compare(url, triton.grpc_url, photos, args, out)
            if rows:
                print(table(HEADERS, rows), flush=True)
            if args.soak_seconds:
                samples, soaked = soak(
                    web, triton.process.pid, url, photos["12 MP"], args=args, out=out
                )
                print("\n" + soak_lines(samples, soaked, args.soak_seconds), flush=True)
            if args.overload_users:
                overload = locust(
                    url, photos["12 MP"], args.model, args.overload_users, 30, out=out
                )
                print(
                    f"overload: {args.overload_users} users of 12 MP for 30 s: "
                    f"{overload['requests']} requests, {overload['failures']} refused (503); "
                    f"gateway alive after: {web.process.poll() is None}"
                )
        finally:
            web.stop()
            triton.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
