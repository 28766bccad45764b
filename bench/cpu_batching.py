"""Requests of 1..16 images on the CPU server: memory, speed and masks per batching policy.

    .venv/bin/python bench/cpu_batching.py                   # u2net_onnx, then u2netp_onnx
    .venv/bin/python bench/cpu_batching.py --models u2net_onnx --policies committed --soak 60
    .venv/bin/python bench/cpu_batching.py --models isnet-sized_onnx --requests 8 --full-requests 4

For each model and each policy, a real `python -m server` serves a temporary repository
holding that model, its configs written by convert's own writer with the policy as the CPU
configuration (``configs/cpu.pbtxt``, chosen with ``--model-config-name cpu``; the model file
linked). Policies: ``committed`` (convert/model_config.py's CPU_BATCHING), ``limit-1`` (the
CPU configuration before: max_batch_size 1, dynamic batching on), ``batcher-on`` (committed,
but with Triton's dynamic batcher) and ``session-N`` (committed, N images per session.run).

``isnet-sized_onnx`` is the 1024² family at IS-Net's real size: bench/isnet_sized.py's graph
(seeded random weights), staged once per run as a custom isnet-family model the way ``python
-m convert custom isnet-sized --family isnet --source FILE`` stages it, in a temporary
repository; its requests are 1024² images. An image takes seconds there:
``--full-requests N`` sends N 16-image requests at concurrency 4 instead of a ``--soak``.

Measured, in this order:
  1. the 16 different test images (sample photos, mirrored, flipped) one per request, once,
     as the reference masks;
  2. single-image requests at concurrency 1 and 4 (``--requests`` each);
  3. 16-image requests (the same 16, rotated by one per request) at concurrency 4 for
     ``--soak`` seconds (or ``--full-requests`` of them); every returned mask is compared
     with its image's reference.
Resident memory of the server (``python -m server``, tritonserver and every backend stub) is
sampled every second. "others' cores" says how quiet the machine was: the CPU time of every
process but the server's and this one during the row, in cores (of ``os.cpu_count()``; 0:
quiet). Prints one Markdown table.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx

from client.load.loadgen import Window, drive
from client.triton import TritonModel
from convert.cli import main as convert_main
from convert.model_config import CPU_BATCHING, BatchingPolicy, OnnxVariant, write_configs
from server.embedded import RunningServer, start
from u2net.catalogue import KNOWN_MODELS, ONNX_SUFFIX
from u2net.contract import CONTRACT, FAMILY_CONTRACTS, ISNET_FAMILY, ServingContract
from u2net.report import table
from u2net.repository.layout import CPU_CONFIG_NAME, VERSION_DIR, default_repository
from u2net.samples import varied_inputs

sys.path.insert(0, str(Path(__file__).parent))
from cpu_config import sampling
from cutout import tree_pids
from isnet_sized import isnet_sized, parameter_count

REQUEST_TIMEOUT_S = 600.0  # 16 u2net images behind 3 others: about 40 s on 2 cores
ISNET_SIZED = "isnet-sized"  # the custom model the real-size IS-Net graph is staged as
ISNET_SIZED_SERVED = ISNET_SIZED + ONNX_SUFFIX
HEADERS = [
    "model",
    "policy",
    "images/request",
    "concurrency",
    "requests",
    "img/s",
    "p50 ms",
    "RSS MB end",
    "RSS peak",
    "max |Δ| vs alone",
    "others' cores",
]


def policies(names: list[str]) -> dict[str, BatchingPolicy]:
    """``committed``, ``limit-1``, ``batcher-on``, ``session-N`` by name."""
    known = {
        "committed": CPU_BATCHING,
        "limit-1": BatchingPolicy(max_batch_size=1),
        "batcher-on": replace(CPU_BATCHING, dynamic_batching=True),
    }
    chosen = {}
    for name in names:
        if name.startswith("session-"):
            chosen[name] = replace(CPU_BATCHING, max_session_batch=int(name.split("-", 1)[1]))
        elif name in known:
            chosen[name] = known[name]
        else:
            raise SystemExit(f"expected a policy among {sorted(known)} or session-N, got {name}")
    return chosen


def contract_for(served_name: str) -> ServingContract:
    return FAMILY_CONTRACTS[ISNET_FAMILY] if served_name == ISNET_SIZED_SERVED else CONTRACT


def variant_of(served_name: str, policy: BatchingPolicy) -> OnnxVariant:
    if served_name == ISNET_SIZED_SERVED:
        return OnnxVariant(ISNET_SIZED, cpu_batching=policy, contract=contract_for(served_name))
    base = next(m for m, known in KNOWN_MODELS.items() if known.onnx_name == served_name)
    return OnnxVariant(base, cpu_batching=policy)


@contextmanager
def isnet_staged() -> Iterator[Path]:
    """A temporary repository holding the real-size IS-Net graph staged as a custom
    isnet-family model (``python -m convert custom``'s own path)."""
    with tempfile.TemporaryDirectory(prefix="bench-isnet-sized-") as tmp:
        model, macs = isnet_sized()
        source, repository = Path(tmp) / f"{ISNET_SIZED}.onnx", Path(tmp) / "repository"
        onnx.save(model, source)
        print(
            f"{ISNET_SIZED}: {parameter_count(model) / 1e6:.1f} M parameters, "
            f"{macs / 1e9:.1f} G multiply-adds per image, {source.stat().st_size / 1e6:.0f} MB",
            file=sys.stderr,
            flush=True,
        )
        argv = ["custom", ISNET_SIZED, "--family", ISNET_FAMILY, "--source", str(source)]
        if convert_main([*argv, "--model-repository", str(repository), "-q"]) != 0:
            raise SystemExit(f"python -m convert custom {ISNET_SIZED} failed")
        yield repository


@contextmanager
def serving(
    served_name: str, policy: BatchingPolicy, source: Path | None = None
) -> Iterator[RunningServer]:
    """A server of ``served_name`` with ``policy`` as its CPU configuration; its model file
    linked from ``source`` (default: the project's repository)."""
    with tempfile.TemporaryDirectory(prefix="bench-cpu-batching-") as tmp:
        repository = Path(tmp)
        write_configs(variant_of(served_name, policy), repository)
        staged = ((source or default_repository()) / served_name / VERSION_DIR).resolve()
        (repository / served_name / VERSION_DIR).symlink_to(staged, target_is_directory=True)
        args = ["--model-repository", tmp, "--models", served_name]
        server = start([*args, "--model-config-name", CPU_CONFIG_NAME], timeout=300)
        try:
            yield server
        finally:
            server.stop()


def _machine_ticks() -> tuple[int, int]:
    """(busy, all) clock ticks of the whole machine so far (/proc/stat's first line)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = values[3] + values[4]  # idle, iowait
    return sum(values) - idle, sum(values)


def _own_ticks(server_pid: int) -> int:
    """CPU ticks used so far by the server's processes and by this one (the load)."""
    ticks = 0
    for pid in tree_pids(server_pid) | {os.getpid()}:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks


@contextmanager
def others_cores(server_pid: int) -> Iterator[list[float]]:
    """Yields a list that gets, on exit, how many cores other processes kept busy meanwhile."""
    busy, total = _machine_ticks()
    ours = _own_ticks(server_pid)
    result: list[float] = []
    try:
        yield result
    finally:
        busy2, total2 = _machine_ticks()
        others = (busy2 - busy) - (_own_ticks(server_pid) - ours)
        result.append(max(others, 0) / max(total2 - total, 1) * (os.cpu_count() or 1))


def numbers(window: Window, size: int, samples: list[float]) -> list[object]:
    """requests, img/s, p50 ms, RSS end, RSS peak of one window of ``size``-image requests."""
    rate = size * len(window.latencies_s) / window.seconds if window.seconds else 0.0
    p50 = window.percentile_ms(50)
    return [len(window.latencies_s), rate, p50, samples[-1], max(samples)]


def full_requests(
    model: TritonModel,
    pid: int,
    images: np.ndarray,
    alone: np.ndarray,
    args: argparse.Namespace,
) -> tuple[Window, list[float], int, float]:
    """16-image requests at concurrency 4 for ``args.soak`` seconds, or ``args.full_requests``
    of them: (window, RSS samples, max |Δ|, others' cores)."""
    worst = [0]

    def send(i: int) -> None:
        order = np.roll(np.arange(len(images)), i)
        masks = model.infer(images[order])
        worst[0] = max(worst[0], int(np.abs(masks.astype(int) - alone[order]).max()))

    with others_cores(pid) as others, sampling(pid) as samples:
        if args.full_requests:
            window = drive(send, args.full_requests, 4)
        else:
            window = drive(send, 10**9, 4, seconds=args.soak)
    if window.errors:
        raise SystemExit(f"{len(window.errors)} errors, first: {window.errors[0]}")
    return window, samples, worst[0], others[0]


def measure(
    name: str,
    policy_name: str,
    policy: BatchingPolicy,
    args: argparse.Namespace,
    source: Path | None = None,
) -> list[list[object]]:
    contract = contract_for(name)
    images = varied_inputs(contract.max_batch, contract)
    rows = []
    with serving(name, policy, source) as server:
        pid = server.process.pid
        model = TritonModel(server.grpc_url, name, contract, timeout_s=REQUEST_TIMEOUT_S)
        alone = np.stack([model.infer(image[None])[0] for image in images])
        for c in (1, 4):
            with others_cores(pid) as others, sampling(pid) as samples:
                window = drive(
                    lambda i: model.infer(images[i % len(images)][None]), args.requests, c
                )
            rows.append([name, policy_name, 1, c, *numbers(window, 1, samples), "-", others[0]])
            print(rows[-1], file=sys.stderr, flush=True)
        if policy.max_batch_size >= len(images):
            window, samples, diff, other = full_requests(model, pid, images, alone, args)
            size = len(images)
            rows.append([name, policy_name, size, 4, *numbers(window, size, samples), diff, other])
            print(rows[-1], file=sys.stderr, flush=True)
        model.close()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="u2net_onnx,u2netp_onnx")
    parser.add_argument("--policies", default="committed,limit-1,batcher-on,session-4")
    parser.add_argument("--requests", type=int, default=16, help="single-image requests at c=1, 4")
    parser.add_argument("--soak", type=float, default=60.0, help="seconds of 16-image requests")
    parser.add_argument(
        "--full-requests", type=int, default=0, help="this many 16-image requests, not a soak"
    )
    args = parser.parse_args(argv)
    names = args.models.split(",")
    rows = []
    with ExitStack() as stack:
        isnet = stack.enter_context(isnet_staged()) if ISNET_SIZED_SERVED in names else None
        for name in names:
            source = isnet if name == ISNET_SIZED_SERVED else None
            for policy_name, policy in policies(args.policies.split(",")).items():
                rows += measure(name, policy_name, policy, args, source)
    print(table(HEADERS, rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
