"""Custom models against rembg's own ``u2net_custom`` and ``dis_custom`` sessions.

    .venv/bin/python bench/custom_vs_rembg.py

A U²-Net-family and an IS-Net-family file (networks of the real files' signature, seeded
random weights: tests/convert/family_nets.py) are staged with ``python -m convert custom``
into a temporary repository beside ``cutout``, served by a real ``python -m server``, and
cut with ``--only-mask`` by ``python -m client cut`` (client-side and ``--server-side``);
rembg 2.0.86, in its own venv (.venv-rembg, made as bench/client_vs_rembg.py makes it),
cuts the same photos with ``new_session(..., model_path=FILE)`` and ``only_mask=True``
(``$U2NET_HOME`` set to the file's folder: rembg takes model paths from its home only).
Prints the largest |Δ| per family, photo and path (docs/models.md).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

import numpy as np
import onnx
from client_vs_rembg import REMBG, ensure_rembg  # beside this script
from PIL import Image

from client.cli import main as client_main
from convert.cli import main as convert_main
from server.embedded import start
from u2net.contract import CUTOUT, FAMILY_CONTRACTS, ISNET_FAMILY, U2NET_FAMILY
from u2net.report import table
from u2net.repository.layout import default_repository
from u2net.samples import sample_photos

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.convert.family_nets import family_net  # noqa: E402

SESSIONS = {U2NET_FAMILY: "u2net_custom", ISNET_FAMILY: "dis_custom"}
TWELVE_MP = (4240, 2832)
REMBG_SCRIPT = """
import sys
from PIL import Image
from rembg import new_session, remove
session = new_session(sys.argv[1], model_path=sys.argv[2])
for source, target in zip(sys.argv[3::2], sys.argv[4::2]):
    remove(Image.open(source), session=session, only_mask=True).save(target)
"""


def photos(folder: Path) -> list[Path]:
    chosen = sample_photos()[:3]
    big = folder / "chelsea-12mp.jpg"
    with Image.open(chosen[1]) as img:
        img.convert("RGB").resize(TWELVE_MP, Image.Resampling.LANCZOS).save(big, quality=92)
    return [*chosen, big]


def rembg_masks(family: str, source: Path, inputs: list[Path], out: Path) -> list[Path]:
    targets = [out / f"rembg-{family}-{p.stem}.png" for p in inputs]
    pairs = [str(x) for pair in zip(inputs, targets, strict=True) for x in pair]
    command = [str(REMBG.parent / "python"), "-c", REMBG_SCRIPT, SESSIONS[family], str(source)]
    env = {**os.environ, "U2NET_HOME": str(source.parent)}  # rembg reads models from there only
    subprocess.run([*command, *pairs], check=True, capture_output=True, env=env)
    return targets


def max_delta(a: Path, b: Path) -> int:
    with Image.open(a) as x, Image.open(b) as y:
        first, second = (np.asarray(i.convert("L"), dtype=np.int16) for i in (x, y))
    return int(np.abs(first - second).max())


def main() -> int:
    ensure_rembg()
    with tempfile.TemporaryDirectory(prefix="custom-vs-rembg-") as tmp:
        folder = Path(tmp)
        repository = folder / "repository"
        repository.mkdir()
        (repository / CUTOUT.name).symlink_to(default_repository() / CUTOUT.name)
        sources = {}
        for family in SESSIONS:
            sources[family] = folder / f"{family}.onnx"
            onnx.save(family_net(FAMILY_CONTRACTS[family].size, seed=7), sources[family])
            name = f"custom_{family}"
            argv = ["custom", name, "--family", family, "--source", str(sources[family])]
            convert_main([*argv, "--model-repository", str(repository), "-q"])
        inputs = photos(folder)
        server = start(["--model-repository", str(repository)], timeout=120.0)
        rows = []
        try:
            for family, source in sources.items():
                references = rembg_masks(family, source, inputs, folder)
                for photo, reference in zip(inputs, references, strict=True):
                    deltas = []
                    for where in ([], ["--server-side"]):
                        out = folder / f"ours-{family}-{photo.stem}.png"
                        argv = ["cut", str(photo), "-o", str(out), "--model", f"custom_{family}"]
                        client_main([*argv, "--only-mask", "--url", server.grpc_url, "-q", *where])
                        deltas.append(max_delta(out, reference))
                    with Image.open(photo) as img:
                        size = f"{img.width}x{img.height}"
                    rows.append([SESSIONS[family], photo.name, size, *deltas])
        finally:
            server.stop()
    print(f"{date.today()}, rembg 2.0.86\n")
    headers = ["rembg session", "photo", "size", "max |Δ| client cut", "max |Δ| cutout"]
    print(table(headers, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
