"""Custom models end to end: ``python -m convert custom`` stages a U²-Net-family and an
IS-Net-family file (networks of their signature, tests/convert/family_nets.py), a real Triton
serves them beside ``cutout``, and their masks through ``python -m client cut``, ``cutout``
and ``/api/remove`` equal rembg's ``u2net_custom`` and ``dis_custom`` recipe on the same
files within 1 grey level, on real photos up to 12 MP."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnx
import pytest
from PIL import Image

from client.cli import main as client_main
from convert.cli import main as convert_main
from doctor.cli import main as doctor_main
from tests import rembg_reference as ref
from tests.convert.family_nets import family_net
from tests.data import PHOTOS, cpu_session
from tests.servers import retire
from tests.web.serving import serve
from u2net.contract import CUTOUT, FAMILY_CONTRACTS, ISNET_FAMILY, U2NET_FAMILY
from u2net.embedded import start
from u2net.repository import default_repository
from web.config import WebConfig

CUSTOM = {"my-u2net": U2NET_FAMILY, "my_dis": ISNET_FAMILY}
TWELVE_MP = (4240, 2832)
LEARN_WAIT_S = 30.0


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path]]:
    """A repository with ``cutout`` and the two custom models; their source files."""
    root = tmp_path_factory.mktemp("custom")
    repository = root / "repository"
    repository.mkdir()
    (repository / CUTOUT.name).symlink_to(default_repository() / CUTOUT.name)
    sources = {}
    for name, family in CUSTOM.items():
        sources[name] = root / f"{name}.onnx"
        onnx.save(family_net(FAMILY_CONTRACTS[family].size, seed=len(name)), sources[name])
        argv = ["custom", name, "--family", family, "--source", str(sources[name])]
        assert convert_main([*argv, "--model-repository", str(repository), "-q"]) == 0
    return repository, sources


@pytest.fixture(scope="module")
def server(staged) -> Iterator[object]:
    repository, _ = staged
    running = start(["--model-repository", str(repository)], timeout=120.0)
    try:
        yield running
    finally:
        retire(running)


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A real photo as it is, and the same stretched to 12 MP (a JPEG)."""
    big = tmp_path_factory.mktemp("photos") / "twelve.jpg"
    with Image.open(PHOTOS[1]) as img:
        img.convert("RGB").resize(TWELVE_MP, Image.Resampling.LANCZOS).save(big, quality=92)
    return {"photo": PHOTOS[1], "12mp": big}


def reference(source: Path, family: str, photo: Path) -> np.ndarray:
    """rembg's u2net_custom / dis_custom on the original file: the mask at the photo's size."""
    contract = FAMILY_CONTRACTS[family]
    size = (contract.size, contract.size)
    with Image.open(photo) as img:
        mask = ref.rembg_mask(cpu_session(source), img, contract.mean, contract.std, size)
    return np.asarray(mask, dtype=np.int16)


def assert_close(got: bytes | Path, expected: np.ndarray) -> None:
    source = io.BytesIO(got) if isinstance(got, bytes) else got
    with Image.open(source) as img:
        mask = np.asarray(img.convert("L"), dtype=np.int16)
    assert mask.shape == expected.shape
    assert np.abs(mask - expected).max() <= 1
    assert expected.max() > 200 and expected.min() < 50, "the reference should not be flat"


CASES = [  # 12 MP once per family (client-side: its decode and resize are the client's)
    (name, which, where)
    for name in CUSTOM
    for which, where in (("photo", ()), ("photo", ("--server-side",)), ("12mp", ()))
]


@pytest.mark.parametrize(
    "case", CASES, ids=[f"{n}-{w}-{'cutout' if s else 'client'}" for n, w, s in CASES]
)
def test_the_cli_and_cutout_cut_with_a_custom_model_as_rembg_does(
    staged, server, photos, tmp_path, case
) -> None:
    (_, sources), (name, which, where) = staged, case
    out = tmp_path / "mask.png"
    argv = ["cut", str(photos[which]), "-o", str(out), "--model", name, "--only-mask", *where]
    assert client_main([*argv, "--url", server.grpc_url, "-q"]) == 0
    assert_close(out, reference(sources[name], CUSTOM[name], photos[which]))


def test_the_gateway_cuts_with_a_custom_model_and_lists_it(staged, server, photos) -> None:
    _, sources = staged
    photo = {"file": ("a.png", photos["photo"].read_bytes())}
    with serve(WebConfig(triton_url=server.grpc_url)) as served, served.client() as http:
        deadline = time.monotonic() + LEARN_WAIT_S  # the watcher's first probe lists the loaded
        while "models" not in http.get("/readyz").json()["triton"]:
            assert time.monotonic() < deadline, "expected the loaded models in /readyz"
            time.sleep(0.1)
        done = http.post("/api/remove", files=photo, data={"model": "my_dis", "om": "true"})
        unknown = http.post("/api/remove", files=photo, data={"model": "nobody"})
    assert done.status_code == 200, done.text
    assert_close(done.content, reference(sources["my_dis"], ISNET_FAMILY, photos["photo"]))
    assert unknown.status_code == 400
    assert "my_dis" in unknown.text and "u2netp" not in unknown.text  # only what is loaded


def test_the_doctor_checks_and_times_the_custom_models(staged, server, capsys) -> None:
    """Each custom model's config against its family's contract (1024² for IS-Net), and a
    timed probe at its own size: neither is reported as off the contract."""
    repository, _ = staged
    argv = ["--url", server.grpc_url, "--model-repository", str(repository), "--json"]
    doctor_main([*argv, "--probe-runs", "1", "--deployment", "cpu"])
    checks = {c["name"]: c for c in json.loads(capsys.readouterr().out)}
    for name in CUSTOM:
        assert checks[f"repository.{name}_onnx"]["status"] == "ok", checks
    timed = json.dumps([c for n, c in checks.items() if n.startswith("server")])
    assert "not the U²-Net serving contract" not in timed
    assert all(f"{name}_onnx" in timed for name in CUSTOM)
