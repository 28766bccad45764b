"""Cost of each compositing mode at 12 megapixels, and `clean`'s share of a whole request.

    .venv/bin/python bench/compositing.py                  # the modes, per photo
    .venv/bin/python bench/compositing.py --requests 4     # and whole requests through cutout

scikit-image's five sample photos, each enlarged to 4000x3000; each mask is the staged
--model's (ONNX Runtime on CPU) resized to that size as the client does. Per photo: the share
of soft pixels (0 < alpha < 250, the ones `clean` estimates), each mode's median wall time of
--repeat and `clean`'s CPU time in the same call (its threads included). The process runs
with the server's allocator settings (`server/distribution.py`), as `cutout`'s stub does
(re-executed with them unless they are set; `--allocator glibc` keeps glibc's defaults, as
the CLI and the gateway run).

With --requests N, a real server (the same model and `cutout`, 2 instances) takes each photo
as a 12 MP JPEG through `cutout` in each mode (PNG level 1, the default), N times at
concurrency 1, modes interleaved. First table: the default `clean` request's median wall
time and `clean`'s median time as a share of it; the median CPU time the server's processes
spent per request, and `clean`'s CPU time as a share of that (what counts when every core is
busy). Second table: each mode's request, and how much of the `clean` request's time it
would save to ask for the others (the encoder's work differs with the pixels too).
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image

from server.distribution import ALLOCATOR_ENV
from u2net.contract import CONTRACT
from u2net.image.compositing import CLEAN, MODES, OPAQUE, cutout
from u2net.image.io import open_rgb
from u2net.image.render import mask_to_size, to_model_input
from u2net.report import table
from u2net.repository.layout import ONNX_FILE, default_repository, staged_paths
from u2net.samples import sample_photos

SIZE = (4000, 3000)
JPEG_QUALITY = 92


def real_mask(rgb: Image.Image, model: str = "u2netp_onnx") -> Image.Image:
    """The staged ``model``'s mask of ``rgb``, at ``rgb``'s size."""
    path, _manifest = staged_paths(default_repository(), model, ONNX_FILE)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    mask_320 = session.run(None, {CONTRACT.input_name: to_model_input(rgb)[None]})[0][0]
    return mask_to_size(mask_320, rgb.size)


def timed(mode: str, rgb: Image.Image, mask: Image.Image, repeat: int) -> tuple[float, float]:
    """The median call's wall ms and the CPU ms of that same call (the median as the requests
    are reported, so that the shares compare like with like)."""
    calls = []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        cutout(rgb, mask, mode)
        calls.append(((time.perf_counter() - wall) * 1e3, (time.process_time() - cpu) * 1e3))
    return sorted(calls)[len(calls) // 2]


def mode_rows(photos: dict[str, Image.Image], model: str, repeat: int) -> list[list[object]]:
    rows = []
    for name, rgb in photos.items():
        mask = real_mask(rgb, model)
        alpha = np.asarray(mask)
        soft = np.count_nonzero((alpha > 0) & (alpha < OPAQUE)) / alpha.size
        times = {mode: timed(mode, rgb, mask, repeat) for mode in MODES}
        row = [name, f"{soft:.0%}", *(f"{times[mode][0]:.0f}" for mode in MODES)]
        rows.append([*row, f"{times[CLEAN][1]:.0f}"])
        print(rows[-1], file=sys.stderr, flush=True)
    return rows


Costs = dict[tuple[str, str], tuple[float, float]]  # (photo, mode) -> wall ms, CPU ms


def request_costs(photos: dict[str, Path], model: str, count: int) -> Costs:
    """Per photo and mode, the median wall ms of its request through ``cutout`` (concurrency
    1, the other options the defaults) and the median CPU ms the server's processes spent on
    it; the modes interleaved."""
    sys.path.insert(0, str(Path(__file__).parent))
    from cutout import serving, tree_cpu_seconds

    from client.cutout import ServerSideCutter
    from u2net.options import OutputOptions

    samples: dict[tuple[str, str], list[tuple[float, float]]] = {}
    with (
        serving(model, 2) as server,
        ServerSideCutter(server.grpc_url, model, concurrency=1) as cutter,
    ):
        for path in photos.values():
            cutter.cut_file(path, OutputOptions())  # warm-up
        for _ in range(count):
            for (name, path), mode in itertools.product(photos.items(), MODES):
                cpu = tree_cpu_seconds(server.process.pid)
                start = time.perf_counter()
                cutter.cut_file(path, OutputOptions(composite=mode))
                wall = (time.perf_counter() - start) * 1e3
                used = (tree_cpu_seconds(server.process.pid) - cpu) * 1e3
                samples.setdefault((name, mode), []).append((wall, used))
    return {
        key: (statistics.median(w for w, _ in got), statistics.median(c for _, c in got))
        for key, got in samples.items()
    }


def request_rows(rows: list[list[object]], costs: Costs) -> list[list[object]]:
    """Per photo: each mode's request (wall ms) and what ``clean`` adds to the request over
    the others, as a share of it."""
    out = []
    for row in rows:
        name = str(row[0])
        walls = {mode: costs[name, mode][0] for mode in MODES}
        extra = [(walls[CLEAN] - walls[mode]) / walls[CLEAN] for mode in MODES if mode != CLEAN]
        out.append([name, *(f"{walls[m]:.0f}" for m in MODES), *(f"{e:.1%}" for e in extra)])
    return out


def with_servers_allocator() -> None:
    """Re-run this process with the server's allocator settings where they are not set
    (glibc reads them once, at start)."""
    missing = {name: value for name, value in ALLOCATOR_ENV.items() if name not in os.environ}
    if missing:
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **missing})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="calls per mode and photo")
    parser.add_argument("--model", default="u2net_onnx", help="the staged model for the masks")
    parser.add_argument("--requests", type=int, default=0, help="per photo; 0: no server")
    parser.add_argument(
        "--allocator",
        choices=("server", "glibc"),
        default="server",
        help="this process's allocator settings: the server's, or glibc's defaults",
    )
    args = parser.parse_args()
    if args.allocator == "server":
        with_servers_allocator()
    photos = {p.stem: open_rgb(p).resize(SIZE, Image.Resampling.LANCZOS) for p in sample_photos()}
    rows = mode_rows(photos, args.model, args.repeat)
    headers = ["photo", "soft pixels", *(f"{mode} ms" for mode in MODES), "clean CPU ms"]
    allocator = {name: os.environ.get(name, "glibc's default") for name in ALLOCATOR_ENV}
    print(f"{SIZE[0]}x{SIZE[1]}, {args.model} masks, median of {args.repeat}, wall ms, {allocator}")
    if not args.requests:
        print(table(headers, rows))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        files = {name: Path(tmp) / f"{name}.jpg" for name in photos}
        for name, rgb in photos.items():
            rgb.save(files[name], quality=JPEG_QUALITY)
        costs = request_costs(files, args.model, args.requests)
    for row in rows:
        wall, cpu = costs[str(row[0]), CLEAN]
        row += [f"{wall:.0f}", f"{float(row[2]) / wall:.1%}", f"{cpu:.0f}"]
        row.append(f"{float(row[5]) / cpu:.1%}")
    headers += ["request ms", "clean ÷ request", "request CPU ms", "clean CPU ÷ request CPU"]
    print(table(headers, rows))
    print(f"\nwhole requests per mode, median of {args.requests}, wall ms")
    others = [mode for mode in MODES if mode != CLEAN]
    print(
        table(
            ["photo", *(f"{mode} request" for mode in MODES)]
            + [f"clean's extra over {mode}" for mode in others],
            request_rows(rows, costs),
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
