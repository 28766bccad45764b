"""One cut's peak memory against u2net.memory's estimate, per kind of request.

    .venv/bin/python bench/cut_memory.py                 # 4000x4000 photos (16 MP)
    .venv/bin/python bench/cut_memory.py --side 10000 --only worst

Each case runs in a fresh process with the server's allocator settings
(server/distribution.py): the photo's bytes made and read, the kernel's peak-RSS mark reset
(/proc/self/clear_refs), then u2net.job's prepare and complete on a fixed soft mask (the
network runs in another process, so its memory is not the cut's). The peak is VmHWM less the
resident size before the cut. The photo is scikit-image's astronaut stretched to the side,
with ±8 grey levels of seeded noise so that it compresses as a photo does. Prints a Markdown
table (docs/api.md, "Memory").
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import subprocess
import sys
from datetime import date

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from server.distribution import ALLOCATOR_ENV
from u2net.contract import CONTRACT
from u2net.job import complete, parse_request, prepare
from u2net.memory import Sizes, peak_bytes

MB = 1 << 20
MATTING_SIDE = 800  # closed-form matting's planes are float64 and its solver iterative
CASES: dict[str, dict[str, object]] = {
    "cut-out (png)": {},
    "mask only": {"only_mask": True},
    "composite rembg": {"composite": "rembg"},
    "over a colour": {"bgcolor": "255,255,255,255"},
    "post-processed mask": {"post_process_mask": True},
    "webp": {"format": "webp"},
    "jpg over white": {"format": "jpg", "bgcolor": "255,255,255,255"},
    "shadow": {"shadow": True},
    "scale 50%": {"scale": "50%"},
    "background photo": {"background": True},
    "worst": {"background": True, "shadow": True, "scale": "50%", "rgba": True},
    "alpha matting": {"alpha_matting": True},
}


def photo_bytes(side: int, rgba: bool) -> bytes:
    """The astronaut stretched to ``side``² with seeded noise: PNG with alpha, else JPEG."""
    from skimage import data

    picture = Image.fromarray(data.astronaut()).resize((side, side), Image.Resampling.BILINEAR)
    pixels = np.asarray(picture, dtype=np.int16)
    noise = np.random.default_rng(0).integers(-8, 9, pixels.shape, dtype=np.int16)
    picture = Image.fromarray(np.clip(pixels + noise, 0, 255).astype(np.uint8))
    buffer = io.BytesIO()
    if rgba:
        picture.convert("RGBA").save(buffer, format="PNG", compress_level=1)
    else:
        picture.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def soft_mask() -> np.ndarray:
    side = CONTRACT.size
    mask = Image.new("L", (side, side), 0)
    ImageDraw.Draw(mask).ellipse((60, 40, 260, 300), fill=255)
    return np.asarray(mask.filter(ImageFilter.GaussianBlur(4)))


def kb(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def child(case: str, side: int) -> dict[str, float]:
    """One cut in this process: its measured peak and the estimate, in MB."""
    given = dict(CASES[case])
    side = MATTING_SIDE if "alpha_matting" in given else side
    data = photo_bytes(side, bool(given.pop("rgba", False)))
    background = data if given.pop("background", False) else None
    request = parse_request({"format": "png", **given}, background)
    sizes = Sizes(side * side, side * side if background else 0)
    mask = soft_mask()
    before = kb("VmRSS")
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # VmHWM := VmRSS
    complete(prepare(data, request, side * side), mask)
    measured = (kb("VmHWM") - before) / MB
    return {"side": side, "measured": measured, "estimate": peak_bytes(sizes, request.options) / MB}


def run(case: str, side: int) -> dict[str, float]:
    env = {**os.environ, **ALLOCATOR_ENV}
    command = [sys.executable, __file__, "--child", case, "--side", str(side)]
    out = subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--side", type=int, default=4000)
    parser.add_argument("--only", action="append", choices=sorted(CASES), help="these cases")
    parser.add_argument("--child", choices=sorted(CASES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.side)))
        return
    print(f"{platform.processor() or platform.machine()}, {date.today()}, --side {args.side}\n")
    print("| request | photo | measured peak MB | estimate MB | estimate / measured |")
    print("|---|---|---:|---:|---:|")
    for case in args.only or CASES:
        row = run(case, args.side)
        side, measured, estimate = row["side"], row["measured"], row["estimate"]
        print(f"| {case} | {side}² | {measured:.0f} | {estimate:.0f} | {estimate / measured:.2f} |")


if __name__ == "__main__":
    main()
