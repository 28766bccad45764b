"""The main job in one command (``make demo``): serve, cut real sample photos, stop.

Starts ``python -m server`` in the background on free loopback ports, waits for it to be
ready, runs ``python -m client cut`` on scikit-image's sample photos into ``out/`` and
stops the server, whatever happens.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from client.errors import ServingError
from convert.samples import sample_photos
from server.launch import start

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "out")
    parser.add_argument("--model", default="u2net", help="u2net (default) or u2netp")
    args = parser.parse_args()
    try:
        photos = sample_photos()
        print("starting python -m server ...", file=sys.stderr)
        server = start(["--models", f"{args.model}_onnx"], timeout=300)
    except ServingError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    try:
        print(server.ready_line, file=sys.stderr)
        command = [
            sys.executable,
            "-m",
            "client",
            "cut",
            "--url",
            server.grpc_url,
            "--model",
            args.model,
            *map(str, photos),
            "-o",
            str(args.out),
        ]
        done = subprocess.run(command, cwd=ROOT, check=False)
    finally:
        server.stop()
    if done.returncode == 0:
        print(
            f"cut-outs in {args.out}/: "
            + ", ".join(sorted(p.name for p in args.out.glob("*.out.png"))),
            file=sys.stderr,
        )
    return done.returncode


if __name__ == "__main__":
    raise SystemExit(main())
