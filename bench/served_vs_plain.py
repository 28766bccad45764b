"""Served (``python -m server``, the client's gRPC) vs plain in-process ONNX Runtime.

Same model file, same thread settings (read from the model's config.pbtxt), real photos from
scikit-image's data folder resized to 320×320. Prints markdown tables:

1. latency at concurrency 1 and throughput at concurrency 1/2/4, served vs plain;
2. plain ONNX Runtime cost per image at batch 1/2/4 (does batching help on this CPU?);
3. with ``--variants``: served throughput under alternative batching/instance configs, each in
   a temporary model repository (the committed config.pbtxt files are not touched).

    python bench/served_vs_plain.py                      # u2netp_onnx
    python bench/served_vs_plain.py --model u2net_onnx --variants
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
from google.protobuf import text_format

from client.triton import TritonServer
from server.embedded import start
from u2net.contract import CONTRACT
from u2net.repository.layout import (
    ONNX_FILE,
    VERSION_DIR,
    config_path,
    default_repository,
    read_config,
)
from u2net.samples import SAMPLE_NAMES, sample_inputs

PHOTOS = SAMPLE_NAMES
CONCURRENCY = (1, 2, 4)


def photos() -> np.ndarray:
    """The sample photos as the contract's input, by the client's own pre-processing."""
    return sample_inputs(PHOTOS)[1]


def thread_settings(config_path: Path) -> tuple[int, int]:
    params = read_config(config_path).parameters

    def get(key: str) -> int:
        return int(params[key].string_value) if key in params else 0

    intra = get("intra_op_thread_count") or (os.cpu_count() or 1)  # same rule as the backend
    return intra, get("inter_op_thread_count") or 1


@dataclass
class Measurement:
    latency_ms: float  # median at concurrency 1
    p90_ms: float
    throughput: dict[int, float]  # concurrency -> images/s (best round)


def _throughput(run_one: Callable[[int], None], c: int, requests: int) -> float:
    n = max(requests, 2 * c)
    t = time.perf_counter()
    with ThreadPoolExecutor(c) as pool:
        list(pool.map(run_one, range(n)))
    return n / (time.perf_counter() - t)


def measure_pair(
    runners: dict[str, Callable[[int], None]], requests: int, latency_runs: int, rounds: int
) -> dict[str, Measurement]:
    """Measure several ways of running one request (``run(i)`` sends image i), interleaved:
    latency samples alternate between them and each throughput round runs all of them back to
    back, keeping the best round, so background load on a shared host hits all alike."""
    for run in runners.values():
        for i in range(3):
            run(i)
    times: dict[str, list[float]] = {k: [] for k in runners}
    for i in range(latency_runs):
        for key, run in runners.items():
            t = time.perf_counter()
            run(i)
            times[key].append(time.perf_counter() - t)
    best: dict[str, dict[int, float]] = {k: dict.fromkeys(CONCURRENCY, 0.0) for k in runners}
    for _ in range(rounds):
        for c in CONCURRENCY:
            for key, run in runners.items():
                best[key][c] = max(best[key][c], _throughput(run, c, requests))
    result = {}
    for key, samples in times.items():
        samples.sort()
        result[key] = Measurement(
            1000 * statistics.median(samples),
            1000 * samples[int(0.9 * (len(samples) - 1))],
            best[key],
        )
    return result


def plain_session(model_file: Path, intra: int, inter: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = intra
    options.inter_op_num_threads = inter
    return ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])


def plain_batches(session: ort.InferenceSession, images: np.ndarray) -> dict[int, float]:
    """ms per image at batch 1/2/4."""
    name = session.get_inputs()[0].name
    result = {}
    for b in (1, 2, 4):
        batch = np.concatenate([images] * 2)[:b]
        session.run(None, {name: batch})
        runs = []
        for _ in range(max(2, 8 // b)):
            t = time.perf_counter()
            session.run(None, {name: batch})
            runs.append((time.perf_counter() - t) / b)
        result[b] = 1000 * statistics.median(runs)
    return result


class GrpcSender:
    """One client per thread (clients are cheap; avoids shared-channel locks)."""

    def __init__(self, url: str, model: str, images: np.ndarray) -> None:
        self.url, self.model, self.images = url, model, images
        self.local = threading.local()

    def __call__(self, i: int) -> None:
        server = getattr(self.local, "server", None)
        if server is None:
            server = self.local.server = TritonServer(self.url)
        server.infer(self.model, self.images[i % len(self.images)][None], CONTRACT)


def batch_histogram(url: str, model: str) -> dict[int, int]:
    with TritonServer(url) as server:
        stats = server.statistics(model)
    return {
        int(b["batch_size"]): int(b["compute_infer"].get("count", 0))
        for b in stats["model_stats"][0].get("batch_stats", [])
    }


@contextmanager
def served(repository: Path, model: str) -> Iterator[str]:
    server = start(["--model-repository", str(repository), "--models", model], timeout=300)
    try:
        yield server.grpc_url
    finally:
        server.stop()


def variant_repo(tmp: Path, model: str, edit: Callable[[object], None]) -> Path:
    """A repository holding ``model`` with an edited config; the version folder is linked."""
    source = default_repository() / model
    config = read_config(source / "config.pbtxt")
    edit(config)
    target = tmp / model
    target.mkdir(parents=True)
    (target / "config.pbtxt").write_text(text_format.MessageToString(config))
    for version in source.iterdir():
        if version.is_dir() and version.name.isdigit():
            (target / version.name).symlink_to(version.resolve(), target_is_directory=True)
    return tmp


def _no_batching(c: object) -> None:
    c.ClearField("dynamic_batching")  # type: ignore[attr-defined]


def _queue_delay(c: object) -> None:
    c.dynamic_batching.max_queue_delay_microseconds = 5000  # type: ignore[attr-defined]
    c.dynamic_batching.preferred_batch_size.extend([2, 4])  # type: ignore[attr-defined]


def _two_instances(c: object) -> None:
    c.instance_group[0].count = 2  # type: ignore[attr-defined]
    c.parameters["intra_op_thread_count"].string_value = "1"  # type: ignore[attr-defined]


def _no_spinning(c: object) -> None:
    c.parameters["allow_spinning"].string_value = "0"  # type: ignore[attr-defined]


VARIANTS: dict[str, Callable[[object], None]] = {
    "no dynamic batching": _no_batching,
    "queue delay 5 ms, preferred [2, 4]": _queue_delay,
    "2 instances × 1 intra-op thread": _two_instances,
    "allow_spinning=0": _no_spinning,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="u2netp_onnx")
    parser.add_argument("--requests", type=int, default=16, help="requests per throughput run")
    parser.add_argument("--latency-runs", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=2, help="throughput rounds (best kept)")
    parser.add_argument("--variants", action="store_true", help="also try alternative configs")
    args = parser.parse_args(argv)

    folder = default_repository() / args.model
    config = read_config(config_path(folder.parent, args.model))
    model_file = folder / VERSION_DIR / (config.default_model_filename or ONNX_FILE)
    if not model_file.exists():
        print(f"{model_file} is not staged; run `python -m convert` first", file=sys.stderr)
        return 1
    intra, inter = thread_settings(folder / "config.pbtxt")
    images = photos()
    print(f"model {args.model}, intra_op={intra}, inter_op={inter}, cpus={os.cpu_count()}\n")

    session = plain_session(model_file, intra, inter)
    name = session.get_inputs()[0].name

    def run_plain(i: int) -> None:
        session.run(None, {name: images[i % len(images)][None]})

    with served(default_repository(), args.model) as url:
        before = batch_histogram(url, args.model)
        measured = measure_pair(
            {"plain": run_plain, "served": GrpcSender(url, args.model, images)},
            args.requests,
            args.latency_runs,
            args.rounds,
        )
        after = batch_histogram(url, args.model)
        per_image = plain_batches(session, images)
    plain, served_m = measured["plain"], measured["served"]
    batches = {b: after[b] - before.get(b, 0) for b in sorted(after) if after[b] > before.get(b, 0)}

    best_plain = max(plain.throughput.values())
    print("| | plain ORT | served (Triton gRPC) | served / plain |")
    print("|---|---:|---:|---:|")
    print(
        f"| latency c=1, median ms | {plain.latency_ms:.1f} | {served_m.latency_ms:.1f} "
        f"| {served_m.latency_ms / plain.latency_ms:.2f}× (target ≤ 1.10) |"
    )
    print(
        f"| latency c=1, p90 ms | {plain.p90_ms:.1f} | {served_m.p90_ms:.1f} "
        f"| {served_m.p90_ms / plain.p90_ms:.2f}× |"
    )
    for c in CONCURRENCY:
        target = " (target ≥ 0.95 of best plain)" if c == max(CONCURRENCY) else ""
        print(
            f"| throughput c={c}, img/s | {plain.throughput[c]:.2f} | {served_m.throughput[c]:.2f} "
            f"| {served_m.throughput[c] / best_plain:.2f}× best plain{target} |"
        )
    print(f"\nserved batch sizes executed (size: count): {batches}\n")
    print("| plain ORT batch | ms / image |")
    print("|---:|---:|")
    for b, ms in per_image.items():
        print(f"| {b} | {ms:.1f} |")

    if args.variants:
        print("\n| served variant | latency c=1 ms | img/s c=1 | c=2 | c=4 | batches |")
        print("|---|---:|---:|---:|---:|---|")
        rows = {"repository config": (served_m, batches)}
        for label, edit in VARIANTS.items():
            with tempfile.TemporaryDirectory() as tmp:
                repo = variant_repo(Path(tmp), args.model, edit)
                with served(repo, args.model) as url:
                    before = batch_histogram(url, args.model)
                    sender = GrpcSender(url, args.model, images)
                    m = measure_pair({"v": sender}, args.requests, 5, args.rounds)["v"]
                    after = batch_histogram(url, args.model)
            rows[label] = (
                m,
                {b: after[b] - before.get(b, 0) for b in after if after[b] > before.get(b, 0)},
            )
        for label, (m, hist) in rows.items():
            t = m.throughput
            print(
                f"| {label} | {m.latency_ms:.1f} | {t[1]:.2f} | {t[2]:.2f} | {t[4]:.2f} | {hist} |"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
