"""A stream of video frames through `python -m client frames` against a folder `cut` of the
same frames, in one interleaved run.

    .venv/bin/python bench/frames.py --frames 48 --size 640x480 --concurrency 2,4

The frames are the test clip's zoom into scikit-image's astronaut (tests/clip.py). `cut`
reads them as PNG files from a folder and writes PNG files; `frames` reads the same pixels
as raw RGB24 on stdin and writes PNG files by a pattern (`-o`) or raw RGBA on stdout
(`--raw`, to /dev/null). Every command runs as a whole process against one embedded
server; the rate is the one each command reports itself (start-up excluded), the median of
--repeat rounds, commands alternating within each round.

Then `--smooth`: the same frames encoded as H.264 and decoded by ffmpeg (codec noise, as a
real clip has), masks from `frames --raw -om --smooth N`, and their flicker.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from client.report import table
from tests.clip import ffmpeg, make_clip, pan_frames, raw_stream
from u2net.embedded import start

ROOT = Path(__file__).resolve().parents[1]
RATE = re.compile(r"\(([\d.]+) (?:images|frames)/s\)")


def rate(command: list[str], stdin: Path | None = None) -> float:
    """Run one command; the frames per second it reports on stderr."""
    with open(stdin or "/dev/null", "rb") as source:
        done = subprocess.run(
            command,
            cwd=ROOT,
            stdin=source,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            check=True,
        )
    found = RATE.search(done.stderr)
    if found is None:
        raise RuntimeError(f"no rate in {done.stderr!r}")
    return float(found.group(1))


def commands(
    url: str, model: str, work: Path, size: tuple[int, int], concurrency: int
) -> dict[str, tuple[list[str], Path | None]]:
    """Each variant's command line and what it reads on stdin."""
    base = [sys.executable, "-m", "client"]
    common = ["--url", url, "--model", model, "--concurrency", str(concurrency)]
    width, height = map(str, size)
    out = work / f"out-{concurrency}"
    return {
        "cut DIR -o OUT": ([*base, "cut", str(work / "in"), "-o", str(out / "cut"), *common], None),
        "frames W H -o f-%04d.png": (
            [*base, "frames", width, height, "-o", str(out / "frames" / "f-%04d.png"), *common],
            work / "frames.rgb",
        ),
        "frames W H --raw": (
            [*base, "frames", width, height, "--raw", *common],
            work / "frames.rgb",
        ),
    }


def flicker(alphas: np.ndarray) -> float:
    """Mean |a(t) - (a(t-1) + a(t+1)) / 2| over inner frames and pixels, in grey levels:
    0 for a mask that stays or changes steadily, high for one that jumps back and forth."""
    a = alphas.astype(np.float64)
    return float(np.abs(a[1:-1] - (a[:-2] + a[2:]) / 2).mean())


def smoothing_rows(
    url: str, model: str, work: Path, frames: list, windows: list[int]
) -> list[list[object]]:
    """The clip as H.264 (ffmpeg), decoded to RGB24 again, then `frames --raw -om --smooth N`:
    each window's flicker, and how far its masks are from the unsmoothed ones."""
    width, height = frames[0].size
    clip_file = make_clip(work / "clip.mp4", frames)
    decode = [ffmpeg() or "ffmpeg", "-v", "error", "-i", str(clip_file), "-an"]
    decode += ["-f", "rawvideo", "-pix_fmt", "rgb24", str(work / "decoded.rgb")]
    subprocess.run(decode, check=True)
    masks = {}
    for window in windows:
        command = [sys.executable, "-m", "client", "frames", str(width), str(height), "--raw"]
        command += ["-om", "--smooth", str(window), "--url", url, "--model", model, "-q"]
        with open(work / "decoded.rgb", "rb") as source:
            done = subprocess.run(command, cwd=ROOT, stdin=source, capture_output=True, check=True)
        masks[window] = np.frombuffer(done.stdout, np.uint8).reshape(-1, height, width)
    plain = masks[windows[0]].astype(np.int16)
    return [
        [w, f"{flicker(m):.2f}", f"{np.abs(m.astype(np.int16) - plain).mean():.2f}"]
        for w, m in masks.items()
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--size", default="640x480", help="WIDTHxHEIGHT")
    parser.add_argument("--model", default="u2netp", choices=("u2netp", "u2net"))
    parser.add_argument("--concurrency", default="2,4", help="comma-separated")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--smooth", default="1,2,3,5", help="windows for the flicker table ('' to skip)"
    )
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    frames = pan_frames(args.frames, size)  # type: ignore[arg-type]
    server = start(["--models", f"{args.model}_onnx"], timeout=300)
    rates: dict[tuple[int, str], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "in").mkdir()
        for index, frame in enumerate(frames):
            frame.save(work / "in" / f"{index:04d}.png", compress_level=1)
        (work / "frames.rgb").write_bytes(raw_stream(frames))
        try:
            windows = [int(w) for w in args.smooth.split(",") if w]
            smooth = smoothing_rows(server.grpc_url, args.model, work, frames, windows)
            for _round in range(args.repeat):
                for concurrency in map(int, args.concurrency.split(",")):
                    variants = commands(server.grpc_url, args.model, work, size, concurrency)
                    for name, (command, stdin) in variants.items():
                        rates.setdefault((concurrency, name), []).append(rate(command, stdin))
                        shutil.rmtree(work / f"out-{concurrency}", ignore_errors=True)
        finally:
            server.stop()
    rows = []
    for (concurrency, name), values in rates.items():
        folder = statistics.median(rates[(concurrency, "cut DIR -o OUT")])
        median = statistics.median(values)
        rows.append([concurrency, name, f"{median:.2f}", f"{median / folder:.2f}"])
    print(f"{args.frames} frames of {args.size}, {args.model}, median of {args.repeat} rounds")
    print(table(["concurrency", "command", "frames/s", "× cut"], rows))
    if smooth:
        print(f"\n--smooth on the same frames as H.264, decoded by ffmpeg ({args.model})")
        print(table(["--smooth", "flicker (grey levels)", "mean abs Δ from --smooth 1"], smooth))
    return 0


if __name__ == "__main__":
    sys.exit(main())
