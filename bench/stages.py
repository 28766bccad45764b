"""Per-stage cost of a 12-megapixel photo's image work, the PNG encoders, and one request.

    .venv/bin/python bench/stages.py                       # stages and encoders
    .venv/bin/python bench/stages.py --requests 6          # and whole requests through cutout

A real photo (scikit-image's astronaut) is enlarged to 4000x3000 and saved as JPEG; its mask
is the staged u2netp model's (ONNX Runtime). Each stage runs with the project's own functions,
the stages and encoders interleaved round by round; the table gives the median of --repeat
rounds in CPU time of this process (on a machine shared with other work, wall time measures
the neighbours). The PNG rows compare the project's writer (u2net/image/encoders.py) with Pillow's.

With --requests N, a real server (u2net_onnx and `cutout`, 2 instances) is started once per
ONNX Runtime spinning setting (--spinning); a 640x427 JPEG of the same photo and the 12 MP
JPEG alternate through `cutout` at concurrency 1, N each: wall-clock p50 and their ratio.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from client.cutout import ServerSideCutter
from u2net.image import compositing
from u2net.image.encoders import encode_png
from u2net.image.io import encode, open_rgb
from u2net.image.render import mask_to_size, to_model_input
from u2net.options import OutputOptions
from u2net.report import table
from u2net.samples import sample_photos

sys.path.insert(0, str(Path(__file__).parent))
from compositing import real_mask
from cutout import serving

SIZE = (4000, 3000)
SMALL = (640, 427)
PNG_LEVELS = (0, 1, 6)  # stored, the default, Pillow's default and rembg's


def pillow_png(image: Image.Image, level: int) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=level)
    return buffer.getvalue()


def stages(photo: Path) -> dict[str, Callable[[], object]]:
    """Each stage as a call on the same inputs (made once here)."""
    rgb = open_rgb(photo)
    mask = real_mask(rgb)
    mask_320 = np.asarray(mask.resize((320, 320), Image.Resampling.LANCZOS))
    clean = compositing.cutout(rgb, mask, compositing.CLEAN)
    calls: dict[str, Callable[[], object]] = {
        "decode (open_rgb, JPEG)": lambda: open_rgb(photo),
        "resize to 320 (LANCZOS)": lambda: to_model_input(rgb),
        "mask resize to 12 MP (LANCZOS)": lambda: mask_to_size(mask_320, rgb.size),
    }
    for mode in compositing.MODES:
        calls[f"compose {mode}"] = lambda m=mode: compositing.cutout(rgb, mask, m)
    for level in PNG_LEVELS:
        calls[f"png {level}: encoders"] = lambda lv=level: encode_png(clean, lv)
        calls[f"png {level}: Pillow"] = lambda lv=level: pillow_png(clean, lv)
    calls["webp (lossless, exact)"] = lambda: encode(clean, OutputOptions(fmt="webp"))
    return calls


def timed_rounds(calls: dict[str, Callable[[], object]], repeat: int) -> list[list[object]]:
    times: dict[str, list[float]] = {name: [] for name in calls}
    sizes: dict[str, float] = {}
    for _ in range(repeat):
        for name, call in calls.items():
            start = time.process_time()
            result = call()
            times[name].append(time.process_time() - start)
            if isinstance(result, bytes):
                sizes[name] = len(result) / 1e6
    return [[name, statistics.median(t) * 1e3, sizes.get(name, "")] for name, t in times.items()]


def requests(photos: dict[str, Path], spinning: list[int], count: int) -> list[list[object]]:
    """Both photos alternating through ``cutout`` (PNG level 1, clean) per spinning setting."""
    rows = []
    options = OutputOptions()
    for spin in spinning:
        times: dict[str, list[float]] = {label: [] for label in photos}
        with (
            serving("u2net_onnx", 2, 0, spin) as server,
            ServerSideCutter(server.grpc_url, "u2net_onnx", concurrency=1) as cutter,
        ):
            for path in photos.values():
                cutter.cut_file(path, options)  # warm-up
            for _ in range(count):
                for label, path in photos.items():
                    start = time.perf_counter()
                    cutter.cut_file(path, options)
                    times[label].append(time.perf_counter() - start)
        small, large = (statistics.median(t) * 1e3 for t in times.values())
        rows.append([spin, small, large, large / small])
        print(rows[-1], file=sys.stderr, flush=True)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--requests", type=int, default=0, help="per photo; 0: no server")
    parser.add_argument("--spinning", default="0,1", help="allow_spinning settings to serve")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        source = Image.open(sample_photos()[0]).convert("RGB")
        photos = {}
        for label, size in (("640x427", SMALL), ("4000x3000", SIZE)):
            photos[label] = Path(tmp) / f"{label}.jpg"
            source.resize(size, Image.Resampling.LANCZOS).save(photos[label], quality=92)
        rows = timed_rounds(stages(photos["4000x3000"]), args.repeat)
        print(f"12 MP photo {SIZE[0]}x{SIZE[1]} JPEG, median of {args.repeat} rounds, CPU ms")
        print(table(["stage", "ms", "MB"], rows))
        if args.requests:
            spinning = [int(s) for s in args.spinning.split(",")]
            rows = requests(photos, spinning, args.requests)
            print(f"\nu2net_onnx + cutout, concurrency 1, median of {args.requests}, wall ms")
            print(table(["allow_spinning", "640x427 ms", "12 MP ms", "ratio"], rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
