"""Cost of each compositing mode at 12 megapixels, and `clean`'s share of a whole request.

    .venv/bin/python bench/compositing.py                  # the modes, per photo
    .venv/bin/python bench/compositing.py --requests 4     # and whole requests through cutout

scikit-image's five sample photos, each enlarged to 4000x3000; each mask is the staged
--model's (ONNX Runtime on CPU) resized to that size as the client does. Per photo: the share
of soft pixels (0 < alpha < 250, the ones `clean` estimates), each mode's best wall time of
--repeat and `clean`'s CPU time in the same call (its threads included).

With --requests N, a real server (the same model and `cutout`, 2 instances) takes each photo
as a 12 MP JPEG through `cutout` with the defaults (`clean`, PNG level 1), N times at
concurrency 1: the median wall time, and `clean`'s best time as a share of it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image

from client.report import table
from u2net.compositing import CLEAN, MODES, OPAQUE, cutout
from u2net.contract import CONTRACT
from u2net.imaging import mask_to_size, open_rgb, to_model_input
from u2net.repository import ONNX_FILE, default_repository, staged_paths
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
    """Best wall ms and the CPU ms of that same call."""
    best = (float("inf"), 0.0)
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        cutout(rgb, mask, mode)
        best = min(best, ((time.perf_counter() - wall) * 1e3, (time.process_time() - cpu) * 1e3))
    return best


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


def request_ms(photos: dict[str, Path], model: str, count: int) -> dict[str, float]:
    """Median wall ms of each photo's request through ``cutout`` (defaults, concurrency 1)."""
    sys.path.insert(0, str(Path(__file__).parent))
    from cutout import serving

    from client.server_side import ServerSideCutter
    from u2net.options import OutputOptions

    options, times = OutputOptions(), {name: [] for name in photos}
    with (
        serving(model, 2) as server,
        ServerSideCutter(server.grpc_url, model, concurrency=1) as cutter,
    ):
        for path in photos.values():
            cutter.cut_file(path, options)  # warm-up
        for _ in range(count):
            for name, path in photos.items():
                start = time.perf_counter()
                cutter.cut_file(path, options)
                times[name].append((time.perf_counter() - start) * 1e3)
    return {name: statistics.median(t) for name, t in times.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--model", default="u2net_onnx", help="the staged model for the masks")
    parser.add_argument("--requests", type=int, default=0, help="per photo; 0: no server")
    args = parser.parse_args()
    photos = {p.stem: open_rgb(p).resize(SIZE, Image.Resampling.LANCZOS) for p in sample_photos()}
    rows = mode_rows(photos, args.model, args.repeat)
    headers = ["photo", "soft pixels", *(f"{mode} ms" for mode in MODES), "clean CPU ms"]
    if args.requests:
        with tempfile.TemporaryDirectory() as tmp:
            files = {name: Path(tmp) / f"{name}.jpg" for name in photos}
            for name, rgb in photos.items():
                rgb.save(files[name], quality=JPEG_QUALITY)
            requests = request_ms(files, args.model, args.requests)
        for row in rows:
            whole = requests[row[0]]
            row += [f"{whole:.0f}", f"{float(row[2]) / whole:.1%}"]
        headers += ["request ms", "clean ÷ request"]
    print(f"{SIZE[0]}x{SIZE[1]}, {args.model} masks, best of {args.repeat}, wall ms")
    print(table(headers, rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
