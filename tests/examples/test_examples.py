"""docs/api.md's calls without our Python package (curl, Node.js) against the real server."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from client import Cutter
from tests.data import PHOTOS
from u2net.options import OutputOptions

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = {
    "curl": (["bash", str(ROOT / "examples" / "cutout_curl.sh")], "curl"),
    "node": (["node", str(ROOT / "examples" / "cutout.mjs")], "node"),
}


@pytest.mark.parametrize("example", list(EXAMPLES))
def test_example_cuts_like_the_client(triton_server, tmp_path: Path, example: str) -> None:
    command, tool = EXAMPLES[example]
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed")
    out = tmp_path / "out.png"
    url = f"http://{triton_server.http_url}"
    done = subprocess.run(
        [*command, str(PHOTOS[0]), str(out), url, "u2netp"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    with Cutter(triton_server.grpc_url, "u2netp") as local:
        assert out.read_bytes() == local.cut_file(PHOTOS[0], OutputOptions())
    report = json.loads((done.stdout or done.stderr).strip().splitlines()[-1])
    assert "512" in json.dumps(report)  # the photo's size comes back


@pytest.mark.parametrize("example", list(EXAMPLES))
def test_example_reports_a_bad_image(triton_server, tmp_path: Path, example: str) -> None:
    command, tool = EXAMPLES[example]
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed")
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a photo")
    done = subprocess.run(
        [
            *command,
            str(bad),
            str(tmp_path / "out.png"),
            f"http://{triton_server.http_url}",
            "u2netp",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert "HTTP 400" in done.stderr and "not an image" in done.stderr
