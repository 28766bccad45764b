"""Cut the same folder of real photos with `rembg p` and with this stack, in one run.

    .venv/bin/python bench/client_vs_rembg.py

rembg 2.0.86 lives in its own venv (.venv-rembg; it wants numpy 2, Triton's wheel numpy<2)
and uses the very same u2net.onnx from $U2NET_HOME. Our side: `python -m server
--models u2net_onnx` is started first (a long-running service; its start-up is reported
separately) and `python -m client cut DIR -o OUT` is timed as a whole command, like
`rembg p -m u2net DIR OUT`. Each command runs --repeat times, alternating; best is kept.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from server.embedded import start
from u2net.catalogue import KNOWN_MODELS, cache_dir
from u2net.report import table
from u2net.samples import SAMPLE_NAMES, sample_dir

ROOT = Path(__file__).resolve().parents[1]
PHOTOS = (*SAMPLE_NAMES, "motorcycle_right.png", "hubble_deep_field.jpg")
REMBG = ROOT / ".venv-rembg" / "bin" / "rembg"


def ensure_rembg() -> None:
    if REMBG.exists():
        return
    subprocess.run([sys.executable, "-m", "venv", str(REMBG.parents[1])], check=True)
    pip = REMBG.parent / "pip"
    subprocess.run(
        [str(pip), "install", "-q", "rembg[cpu,cli]==2.0.86", "onnxruntime==1.32.0"], check=True
    )


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(
        command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=3, help="copies of the 7 photos")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args()
    model = cache_dir() / KNOWN_MODELS["u2net"].filename
    if not model.is_file():
        print(f"error: {model} missing; run `python -m convert`", file=sys.stderr)
        return 1
    ensure_rembg()
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in"
        src.mkdir()
        for i in range(args.copies):
            for name in PHOTOS:
                shutil.copy(sample_dir() / name, src / f"{i}_{name}")
        n = args.copies * len(PHOTOS)
        t0 = time.perf_counter()
        server = start(["--models", "u2net_onnx"], timeout=300)
        startup = time.perf_counter() - t0
        client = [
            sys.executable,
            "-m",
            "client",
            "cut",
            "--url",
            server.grpc_url,
            "--model",
            "u2net_onnx",
            "-q",
            "--concurrency",
            str(args.concurrency),
        ]
        ours, theirs = [], []
        try:
            # the server's first request pays ONNX Runtime's warm-up
            timed([*client, str(src / f"0_{PHOTOS[0]}"), "-o", f"{tmp}/warm.png"])
            for i in range(args.repeat):  # fresh output folders: `rembg p` skips done files
                theirs.append(timed([str(REMBG), "p", "-m", "u2net", str(src), f"{tmp}/r{i}"]))
                ours.append(timed([*client, str(src), "-o", f"{tmp}/o{i}"]))
        finally:
            server.stop()
    best_ours, best_rembg = min(ours), min(theirs)
    print(
        f"{n} photos ({len(PHOTOS)} scikit-image photos x {args.copies}), u2net, "
        f"best of {args.repeat}; server start-up (not included): {startup:.1f}s"
    )
    print(
        table(
            ["command", "seconds", "img/s", "speed-up"],
            [
                ["rembg p -m u2net (2.0.86)", best_rembg, n / best_rembg, 1.0],
                [
                    f"python -m client cut (u2net_onnx, --concurrency {args.concurrency})",
                    best_ours,
                    n / best_ours,
                    best_rembg / best_ours,
                ],
            ],
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
