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

from PIL import Image

from server.embedded import start
from u2net.errors import ServingError
from u2net.samples import sample_photos

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
        made = sorted(args.out.glob("*.out.png"))
        print(f"cut-outs in {args.out}/: " + ", ".join(p.name for p in made), file=sys.stderr)
        print(ascii_alpha(made[0]))
    return done.returncode


def ascii_alpha(path: Path, width: int = 48) -> str:
    """A terminal preview of a cut-out's alpha channel (dense characters: subject)."""
    alpha = Image.open(path).getchannel("A")
    height = max(1, round(alpha.height / alpha.width * width / 2))
    pixels = list(alpha.resize((width, height), Image.Resampling.BOX).getdata())
    ramp = " .:-=+*#"
    rows = [
        "".join(ramp[v * len(ramp) // 256] for v in pixels[y * width : (y + 1) * width])
        for y in range(height)
    ]
    return f"{path.name} (alpha):\n" + "\n".join(rows)


if __name__ == "__main__":
    raise SystemExit(main())
