"""Which batch limit suits the CPU server: resident memory and throughput per max_batch_size.

    .venv/bin/python bench/cpu_config.py                          # u2net_onnx and u2netp_onnx
    .venv/bin/python bench/cpu_config.py --models u2netp_onnx --batch-limits 16,2 --soak 30

For each model and each ``max_batch_size``, a real `python -m server` serves a temporary
repository holding that model with its config edited (the model file linked). Raw tensors
(pre-processed photos) are sent at concurrency 1, 4 and 16 (``drive`` from client/load/loadgen.py);
the server's resident memory (tritonserver + every backend stub) is sampled every second.
At concurrency 16 the load runs for ``--soak`` seconds so ONNX Runtime's arena can grow to
what the batches need. Prints one Markdown table.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from client.load.loadgen import drive
from client.triton import TritonModel
from server.embedded import RunningServer, start
from u2net.report import table
from u2net.samples import sample_inputs

sys.path.insert(0, str(Path(__file__).parent))
from cutout import tree_rss_mb
from served_vs_plain import variant_repo

HEADERS = ["model", "max_batch_size", "concurrency", "img/s", "p50 ms", "RSS MB end", "RSS peak"]


@contextmanager
def serving(model: str, max_batch: int) -> Iterator[RunningServer]:
    with tempfile.TemporaryDirectory(prefix="bench-cpu-config-") as tmp:
        repository = variant_repo(
            Path(tmp), model, lambda c: setattr(c, "max_batch_size", max_batch)
        )
        server = start(["--model-repository", str(repository), "--models", model], timeout=300)
        try:
            yield server
        finally:
            server.stop()


@contextmanager
def sampling(pid: int) -> Iterator[list[float]]:
    samples = [tree_rss_mb(pid)]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(1.0):
            samples.append(tree_rss_mb(pid))

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield samples
    finally:
        stop.set()
        thread.join()
        samples.append(tree_rss_mb(pid))


def run_level(model: TritonModel, images: np.ndarray, c: int, seconds: float, n: int):
    def send(i: int) -> None:
        model.infer(images[i % len(images)][None])

    if seconds > 0:
        return drive(send, 10**9, c, seconds=seconds)
    return drive(send, n, c)


def measure(name: str, max_batch: int, images: np.ndarray, args) -> list[list[object]]:
    rows = []
    with serving(name, max_batch) as server:
        model = TritonModel(server.grpc_url, name)
        drive(lambda i: model.infer(images[i % len(images)][None]), 2, 1)  # warm-up
        for c in (1, 4, 16):
            seconds = args.soak if c == 16 else 0
            with sampling(server.process.pid) as samples:
                window = run_level(model, images, c, seconds, max(args.requests, 2 * c))
            rate = window.throughput
            row = [name, max_batch, c, rate, window.percentile_ms(50), samples[-1], max(samples)]
            print(row, file=sys.stderr, flush=True)
            rows.append(row)
        model.close()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="u2net_onnx,u2netp_onnx")
    parser.add_argument("--batch-limits", default="16,4,2,1")
    parser.add_argument("--requests", type=int, default=16, help="requests at c=1 and c=4")
    parser.add_argument("--soak", type=float, default=90.0, help="seconds of load at c=16")
    args = parser.parse_args(argv)
    _names, images = sample_inputs()
    rows = []
    for name in args.models.split(","):
        for limit in (int(b) for b in args.batch_limits.split(",")):
            rows += measure(name, limit, images, args)
    print(table(HEADERS, rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
