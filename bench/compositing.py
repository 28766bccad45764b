"""Cost of each compositing mode on a 12-megapixel photo with a real mask.

    .venv/bin/python bench/compositing.py [--repeat 3]

scikit-image's astronaut enlarged to 4000x3000; the mask is the staged u2netp model's
(ONNX Runtime on CPU) resized to that size as the client does. Best of --repeat per mode.
"""

from __future__ import annotations

import argparse
import time

import onnxruntime as ort
from PIL import Image

from client.report import table
from u2net.compositing import MODES, cutout
from u2net.contract import CONTRACT
from u2net.imaging import mask_to_size, open_rgb, to_model_input
from u2net.repository import ONNX_FILE, default_repository, staged_paths
from u2net.samples import sample_photos

SIZE = (4000, 3000)


def real_mask(rgb: Image.Image) -> Image.Image:
    """The staged u2netp model's mask of ``rgb``, at ``rgb``'s size."""
    path, _manifest = staged_paths(default_repository(), "u2netp_onnx", ONNX_FILE)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    mask_320 = session.run(None, {CONTRACT.input_name: to_model_input(rgb)[None]})[0][0]
    return mask_to_size(mask_320, rgb.size)


def best_ms(mode: str, rgb: Image.Image, mask: Image.Image, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        cutout(rgb, mask, mode)
        times.append(time.perf_counter() - start)
    return min(times) * 1e3


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rgb = open_rgb(sample_photos()[0]).resize(SIZE, Image.Resampling.LANCZOS)
    mask = real_mask(rgb)
    rows = [[mode, f"{best_ms(mode, rgb, mask, args.repeat):.0f}"] for mode in MODES]
    print(f"{SIZE[0]}x{SIZE[1]} photo, u2netp mask, best of {args.repeat}")
    print(table(["mode", "ms"], rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
