"""A stream of video frames through `python -m client frames` against a folder `cut` of the
same frames, in one interleaved run.

    .venv/bin/python bench/frames.py --frames 48 --size 640x480 --concurrency 2,4

The frames are the test clip's zoom into scikit-image's astronaut (tests/clip.py). `cut`
reads them as PNG files from a folder and writes PNG files; `frames` reads the same pixels
as raw RGB24 on stdin and writes PNG files by a pattern (`-o`) or raw RGBA on stdout
(`--raw`, to /dev/null). Every command runs as a whole process against one embedded
server; the rate is the one each command reports itself (start-up excluded), the median of
--repeat rounds, commands alternating within each round; "× cut" is the median of each
round's ratio to the `cut` just before it (its range beside it), and the client's own CPU
time per frame is the median over the rounds.

Then `--smooth N`, on H.264 clips that ffmpeg decodes, masks from `frames --raw -om`: the
first frame held still with ffmpeg's temporal noise (a camera's grain; any change of the
mask from frame to frame is flicker), and the zoom (how far smoothing moves the masks from
the unsmoothed ones: its lag behind motion). `--repeat 0` skips the throughput table.

Then `rembg b` (rembg 2.0.86 in its own venv, bench/client_vs_rembg.py's) against `frames`
on the same raw frames, both writing PNG files by a pattern, as whole commands timed from
outside (start-up included on both sides; our server is already up), alternating,
--repeat rounds; `--against-rembg ''` skips it.
"""

from __future__ import annotations

import argparse
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from client_vs_rembg import REMBG, ensure_rembg  # beside this script

from server.embedded import start
from u2net.report import table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout's tests/
from tests.clip import ffmpeg, make_clip, pan_frames, raw_stream

ROOT = Path(__file__).resolve().parents[1]
CUT = "cut DIR -o OUT"
RATE = re.compile(r"\(([\d.]+) (?:images|frames)/s\)")


def rate(command: list[str], stdin: Path | None = None) -> tuple[float, float]:
    """Run one command: the frames per second it reports on stderr, and its own CPU seconds
    (user + system), which the other work on a shared machine does not change much."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
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
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    found = RATE.search(done.stderr)
    if found is None:
        raise RuntimeError(f"no rate in {done.stderr!r}")
    return float(found.group(1)), cpu


def commands(
    url: str, model: str, work: Path, size: tuple[int, int], concurrency: int
) -> dict[str, tuple[list[str], Path | None]]:
    """Each variant's command line and what it reads on stdin."""
    base = [sys.executable, "-m", "client"]
    common = ["--url", url, "--model", model, "--concurrency", str(concurrency)]
    width, height = map(str, size)
    out = work / f"out-{concurrency}"
    return {
        CUT: ([*base, "cut", str(work / "in"), "-o", str(out / "cut"), *common], None),
        "frames W H -o f-%04d.png": (
            [*base, "frames", width, height, "-o", str(out / "frames" / "f-%04d.png"), *common],
            work / "frames.rgb",
        ),
        "frames W H --raw": (
            [*base, "frames", width, height, "--raw", *common],
            work / "frames.rgb",
        ),
    }


def wall_rate(command: list[str], stdin: Path, frames: int) -> float:
    """Frames per second of one whole command, start-up included, timed from outside; the
    frames go through a pipe, as from ffmpeg (`rembg b` reads nothing else)."""
    data = stdin.read_bytes()
    begin = time.perf_counter()
    subprocess.run(
        command, cwd=ROOT, input=data, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, check=True,
    )  # fmt: skip
    return frames / (time.perf_counter() - begin)


def rembg_rows(
    url: str, work: Path, size: tuple[int, int], frames: int, args: argparse.Namespace
) -> list[list[object]]:
    """`rembg b` and `frames` (at each --against-rembg concurrency) on the same frames."""
    width, height = map(str, size)
    out = work / "out-rembg"
    model = args.model
    variants = {"rembg b W H -o f-%04u.png": [str(REMBG), "b", width, height, "-m", model]}
    for concurrency in (int(c) for c in args.against_rembg.split(",") if c):
        variants[f"frames W H -o f-%04d.png, concurrency {concurrency}"] = [
            sys.executable, "-m", "client", "frames", width, height, "--url", url,
            "--model", model, "--concurrency", str(concurrency),
        ]  # fmt: skip
    if len(variants) == 1:
        return []
    ensure_rembg()
    rates: dict[str, list[float]] = {}
    for _round in range(args.repeat):
        for name, command in variants.items():
            pattern = "f-%04u.png" if command[0] == str(REMBG) else "f-%04d.png"
            rate_now = wall_rate([*command, "-o", str(out / pattern)], work / "frames.rgb", frames)
            rates.setdefault(name, []).append(rate_now)
            shutil.rmtree(out, ignore_errors=True)
    reference = statistics.median(next(iter(rates.values())))
    return [
        [name, f"{statistics.median(v):.2f}", f"{statistics.median(v) / reference:.2f}"]
        for name, v in rates.items()
    ]


SENSOR_NOISE = 8  # ffmpeg's noise filter strength on the still shot


def step(alphas: np.ndarray) -> float:
    """Mean |a(t) - a(t-1)| over frames and pixels, in grey levels."""
    return float(np.abs(np.diff(alphas.astype(np.int16), axis=0)).mean())


def masks_of(url: str, model: str, clip_file: Path, size: tuple[int, int], window: int):
    """ffmpeg decodes the clip; `frames --raw -om --smooth window` gives its masks."""
    width, height = size
    decode = [ffmpeg() or "ffmpeg", "-v", "error", "-i", str(clip_file), "-an"]
    decode += ["-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"]
    raw = subprocess.run(decode, check=True, capture_output=True).stdout
    command = [sys.executable, "-m", "client", "frames", str(width), str(height), "--raw"]
    command += ["-om", "--smooth", str(window), "--url", url, "--model", model, "-q"]
    done = subprocess.run(command, cwd=ROOT, input=raw, capture_output=True, check=True)
    return np.frombuffer(done.stdout, np.uint8).reshape(-1, height, width)


def smoothing_rows(
    url: str, model: str, work: Path, frames: list, windows: list[int]
) -> list[list[object]]:
    """Per window: flicker on a still shot with sensor noise (every change is flicker), and
    on the zoom how far the masks are from the unsmoothed ones (the lag behind motion)."""
    size = frames[0].size
    still = make_clip(work / "still.mp4", [frames[0]] * len(frames), noise=SENSOR_NOISE)
    zoom = make_clip(work / "zoom.mp4", frames)
    plain = masks_of(url, model, zoom, size, 1).astype(np.int16)
    rows = []
    for window in windows:
        still_masks = masks_of(url, model, still, size, window)
        lag = np.abs(masks_of(url, model, zoom, size, window).astype(np.int16) - plain).mean()
        rows.append([window, f"{step(still_masks):.2f}", f"{lag:.2f}"])
    return rows


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
    parser.add_argument(
        "--against-rembg", default="2,4", help="frames' concurrencies against rembg b ('': skip)"
    )
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    frames = pan_frames(args.frames, size)  # type: ignore[arg-type]
    server = start(["--models", f"{args.model}_onnx"], timeout=300)
    rates: dict[tuple[int, str], list[tuple[float, float]]] = {}
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
            against = rembg_rows(server.grpc_url, work, size, len(frames), args)
        finally:
            server.stop()
    rows: list[list[object]] = []
    for (concurrency, name), values in rates.items():
        folder = rates[(concurrency, CUT)]
        ratios = [run[0] / cut[0] for run, cut in zip(values, folder, strict=True)]
        cpu = statistics.median(run[1] for run in values) / args.frames * 1000
        median = statistics.median(run[0] for run in values)
        rows.append([concurrency, name, f"{median:.2f}", f"{statistics.median(ratios):.2f}"])
        rows[-1] += [f"{min(ratios):.2f}–{max(ratios):.2f}", f"{cpu:.0f}"]
    if rows:
        print(f"{args.frames} frames of {args.size}, {args.model}, median of {args.repeat} rounds")
        headers = ["concurrency", "command", "frames/s", "× cut", "range", "client CPU ms/frame"]
        print(table(headers, rows))
    if against:
        print(f"\nagainst rembg b: {args.frames} frames of {args.size}, {args.model}, whole "
              f"commands, median of {args.repeat} rounds")  # fmt: skip
        print(table(["command", "frames/s", "× rembg b"], against))
    if smooth:
        print(f"\n--smooth, H.264 clips decoded by ffmpeg, {args.model}: mean abs Δ, grey levels")
        headers = ["--smooth", "still shot + noise: frame to frame", "zoom: from --smooth 1"]
        print(table(headers, smooth))
    return 0


if __name__ == "__main__":
    sys.exit(main())
