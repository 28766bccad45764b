"""Per-stage cost of the client's image work on a 12-megapixel photo, and PNG levels.

    .venv/bin/python bench/stages.py

A real photo (scikit-image's astronaut) is enlarged to 4000x3000 and saved as JPEG; each
stage is timed (best of --repeat) with the client's own functions. The PNG compression
table is what `--png-compression`'s default is chosen from.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from client.report import table
from u2net.contract import CONTRACT
from u2net.imaging import cutout, encode, mask_to_size, open_rgb, to_model_input
from u2net.options import OutputOptions
from u2net.samples import sample_photos

SIZE = (4000, 3000)


def best_ms(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times) * 1e3, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        photo = Path(tmp) / "12mp.jpg"
        Image.open(sample_photos()[0]).convert("RGB").resize(SIZE, Image.Resampling.LANCZOS).save(
            photo, quality=92
        )
        decode_ms, rgb = best_ms(lambda: open_rgb(photo), args.repeat)
        resize_ms, _ = best_ms(lambda: to_model_input(rgb), args.repeat)
        side = CONTRACT.size
        yy, xx = np.mgrid[:side, :side]
        disc = (xx - side // 2) ** 2 + (yy - side // 2) ** 2 < (side * 3 // 8) ** 2
        mask_320 = (255 * disc).astype(np.uint8)
        mask_ms, mask = best_ms(lambda: mask_to_size(mask_320, rgb.size), args.repeat)
        compose_ms, cut = best_ms(lambda: cutout(rgb, mask), args.repeat)
        print(f"12 MP photo {SIZE[0]}x{SIZE[1]} JPEG, best of {args.repeat}")
        print(
            table(
                ["stage", "ms"],
                [
                    ["decode (open_rgb)", decode_ms],
                    [f"resize to {CONTRACT.size} (LANCZOS)", resize_ms],
                    ["mask resize to 12 MP (LANCZOS)", mask_ms],
                    ["compose (straight alpha)", compose_ms],
                ],
            )
        )
        rows = []
        for level in range(10):
            options = OutputOptions(png_compression=level)
            ms, data = best_ms(lambda o=options: encode(cut, o), args.repeat)
            rows.append([f"png {level}", ms, len(data) / 1e6])
        for fmt in ("webp",):
            options = OutputOptions(fmt=fmt)
            ms, data = best_ms(lambda o=options: encode(cut, o), args.repeat)
            rows.append([fmt, ms, len(data) / 1e6])
        print()
        print(table(["encode RGBA", "ms", "MB"], rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
