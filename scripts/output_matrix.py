"""The output matrix: the sample photos × ten option sets, written as `cut` would write them,
with no server: the staged u2netp serving graph in ONNX Runtime for the masks, the rest as
the ``cutout`` model does it. Prints one sha256 per file and one digest of them all.

Each option set is given as `cut`'s flags; they are parsed as the CLI parses them, sent
through ``cutout``'s request parameters and parsed back, and the two must agree. Run it
before and after a change that should not move a byte (a refactoring):

    python scripts/output_matrix.py --out /tmp/before   # on the old commit
    python scripts/output_matrix.py --out /tmp/after    # same last line: nothing moved
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from client.cli import build_parser, output_options  # noqa: E402
from u2net.image.io import DEFAULT_MAX_PIXELS  # noqa: E402
from u2net.job import complete, parse_request, prepare  # noqa: E402
from u2net.options import to_parameters  # noqa: E402
from u2net.repository.layout import default_repository  # noqa: E402
from u2net.samples import sample_photos  # noqa: E402

MODEL = "u2netp_onnx"  # the small model: the matrix tests options, not the network
OPTION_SETS = {
    "default": [],
    "rembg": ["--composite", "rembg"],
    "straight": ["--composite", "straight"],
    "mask": ["-om"],
    "bgcolor": ["--bgcolor", "20,200,60"],
    "webp-translucent": ["-bgc", "0", "0", "255", "100", "--format", "webp"],
    "jpg": ["--format", "jpg", "--bgcolor", "255,255,255"],
    "ppm-png6": ["-ppm", "--png-compression", "6"],
    "crop": ["--crop", "--crop-margin", "12", "--max-output-pixels", "40000"],
    "scene": [
        "--roi", "0 0 100% 90%", "--scale", "60%", "--position", "50% 80%", "--shadow",
        "--shadow-opacity", "70", "--no-semitransparency",
    ],
}  # fmt: skip


def session() -> ort.InferenceSession:
    graph = default_repository() / MODEL / "1" / "model.onnx"
    if not graph.is_file():
        raise SystemExit(f"expected the staged {MODEL} at {graph}, got nothing: run make models")
    return ort.InferenceSession(str(graph), providers=["CPUExecutionProvider"])


def cut(model: ort.InferenceSession, photo: Path, flags: list[str]) -> tuple[bytes, str]:
    options = output_options(build_parser().parse_args(["cut", str(photo), *flags]))
    request = parse_request(to_parameters(options, MODEL), options.bg_image)
    if request.options != options:
        raise SystemExit(f"{flags}: expected the same options back from cutout's parameters")
    prepared = prepare(photo.read_bytes(), request, DEFAULT_MAX_PIXELS)
    (mask,) = model.run(None, {model.get_inputs()[0].name: prepared.batch})
    return complete(prepared, np.asarray(mask)[0]).data, options.fmt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the files")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    model = session()
    everything = hashlib.sha256()
    for photo in sample_photos():
        for name, flags in OPTION_SETS.items():
            data, fmt = cut(model, photo, flags)
            path = args.out / f"{photo.stem}-{name}.{fmt}"
            path.write_bytes(data)
            digest = hashlib.sha256(data).hexdigest()
            everything.update(digest.encode())
            print(f"{digest}  {path.name}")
    print(f"{everything.hexdigest()}  all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
