"""Custom models end to end: ``python -m convert custom`` stages a U²-Net-family and an
IS-Net-family file (networks of their signature, tests/convert/family_nets.py), a real Triton
serves them beside ``cutout``, and their masks through ``python -m client cut``, ``cutout``
and ``/api/remove`` equal rembg's ``u2net_custom`` and ``dis_custom`` recipe on the same
files within 1 grey level, on real photos up to 12 MP. ``python -m client ab`` and ``/api/ab``
compare the two families (320² against 1024²) on A's grid, and ``/api/models`` lists them."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import onnx
import pytest
from PIL import Image

from client.cli import main as client_main
from convert.cli import main as convert_main
from doctor.cli import main as doctor_main
from server.embedded import start
from tests import rembg_reference as ref
from tests.convert.family_nets import family_net
from tests.data import PHOTOS, cpu_session
from tests.servers import retire
from tests.web.serving import serve, until_models_learned
from u2net.agreement import MaskAgreement, compare_masks, difference
from u2net.contract import CONTRACT, CUTOUT, FAMILY_CONTRACTS, ISNET_FAMILY, U2NET_FAMILY
from u2net.image.io import open_rgb
from u2net.image.render import to_model_input
from u2net.repository.layout import ONNX_FILE, REPOSITORY_ENV, default_repository, staged_paths
from web.config import WebConfig

CUSTOM = {"my-u2net": U2NET_FAMILY, "my_dis": ISNET_FAMILY}
TWELVE_MP = (4240, 2832)


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


@pytest.fixture(scope="module")
def gateway(server) -> Iterator[httpx.Client]:
    """The gateway in front of the custom models' server, once its watcher's first probe
    listed the loaded models."""
    with serve(WebConfig(triton_url=server.grpc_url)) as served, served.client() as http:
        until_models_learned(http)
        yield http


def test_the_gateway_cuts_with_a_custom_model_and_lists_it(staged, gateway, photos) -> None:
    _, sources = staged
    photo = {"file": ("a.png", photos["photo"].read_bytes())}
    done = gateway.post("/api/remove", files=photo, data={"model": "my_dis", "om": "true"})
    unknown = gateway.post("/api/remove", files=photo, data={"model": "nobody"})
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


def served_mask(repository: Path, name: str, photo: Path) -> np.ndarray:
    """What Triton answers for ``photo``, computed without it: ONNX Runtime on the staged
    serving graph, the photo at its family's size."""
    contract = FAMILY_CONTRACTS[CUSTOM[name]]
    model, _ = staged_paths(repository, f"{name}_onnx", ONNX_FILE)
    batch = to_model_input(open_rgb(photo), contract)[None]
    return cpu_session(model).run([CONTRACT.output_name], {CONTRACT.input_name: batch})[0][0]


def on_grid(mask: np.ndarray, grid: tuple[int, ...]) -> np.ndarray:
    return np.asarray(Image.fromarray(mask).resize(grid[::-1], Image.Resampling.LANCZOS))


def expected_agreement(repository: Path, a: str, b: str, photo: Path) -> MaskAgreement:
    """B's served mask against A's, B's put on A's grid with Pillow's LANCZOS."""
    mask_a, mask_b = (served_mask(repository, name, photo) for name in (a, b))
    return compare_masks(mask_a, on_grid(mask_b, mask_a.shape), str(photo))


def sizes(a: str, b: str) -> tuple[list[int], list[int]]:
    """A's and B's mask sizes as the reports write them ([width, height])."""
    size_a, size_b = (FAMILY_CONTRACTS[CUSTOM[name]].size for name in (a, b))
    return [size_a, size_a], [size_b, size_b]


FAMILY_PAIRS = [("my-u2net", "my_dis"), ("my_dis", "my-u2net")]
PAIR_IDS = ["u2net-against-isnet", "isnet-against-u2net"]


@pytest.mark.parametrize(("a", "b"), FAMILY_PAIRS, ids=PAIR_IDS)
def test_client_ab_compares_two_families_on_as_grid(staged, server, capsys, a, b) -> None:
    """Each model is sent the photos at its own size; B's masks are compared on A's grid,
    where A's floor is measured, and the report says so."""
    repository, _ = staged
    images = [str(p) for p in PHOTOS[:2]]
    argv = ["ab", a, b, *images, "--url", server.grpc_url, "--requests", "2", "--json"]
    assert client_main([*argv, "--concurrency", "1"]) == 0
    agreement = json.loads(capsys.readouterr().out)["agreement"]
    got = [(p["name"], p["iou"], p["mean_abs_diff"], p["max_abs_diff"])
           for p in agreement["per_image"]]  # fmt: skip
    found = [expected_agreement(repository, a, b, Path(photo)) for photo in images]
    assert got == [(m.name, m.iou, m.mean_abs_diff, m.max_abs_diff) for m in found]
    assert all(m.mean_abs_diff > 0 for m in found), "two different networks should differ"
    size, b_size = sizes(a, b)
    assert agreement["compared_at"] == {
        "mask_size": size, "b_mask_size": b_size, "resize": "LANCZOS",
    }  # fmt: skip
    assert agreement["inside_floor"] is not None  # A's floor, measured at A's size


@pytest.mark.parametrize(("a", "b"), FAMILY_PAIRS, ids=PAIR_IDS)
def test_the_gateways_ab_compares_two_families_on_as_grid(staged, gateway, a, b) -> None:
    repository, _ = staged
    photo = PHOTOS[1]
    answer = gateway.post(
        "/api/ab",
        files={"file": (photo.name, photo.read_bytes())},
        data={"model_a": a, "model_b": b},
    )
    assert answer.status_code == 200, answer.text
    found = answer.json()
    expected = expected_agreement(repository, a, b, photo)
    assert (found["iou"], found["mean_abs_diff"], found["max_abs_diff"]) == (
        expected.iou, expected.mean_abs_diff, expected.max_abs_diff,
    )  # fmt: skip
    assert (found["mask_size"], found["b_mask_size"]) == sizes(a, b)
    assert found["model_b"] == {"model": b, "served": f"{b}_onnx"}
    mask_a, mask_b = (served_mask(repository, name, photo) for name in (a, b))
    with Image.open(io.BytesIO(base64.b64decode(found["difference_png"]))) as shown:
        expected_difference = difference(mask_a, on_grid(mask_b, mask_a.shape))
        np.testing.assert_array_equal(np.asarray(shown), expected_difference)


def test_the_gateways_ab_refuses_a_name_the_server_has_not_loaded(gateway) -> None:
    photo = PHOTOS[1]
    answer = gateway.post(
        "/api/ab",
        files={"file": (photo.name, photo.read_bytes())},
        data={"model_a": "my_dis", "model_b": "nobody"},
    )
    assert answer.status_code == 400
    detail = answer.json()["detail"]
    assert detail.startswith("model_b: expected one this server has loaded (")
    assert detail.endswith("got 'nobody'") and "\n" not in detail


def test_the_models_list_the_custom_models_staged_here(staged, gateway, monkeypatch) -> None:
    repository, _ = staged
    monkeypatch.setenv(REPOSITORY_ENV, str(repository))
    listed = [m for m in gateway.get("/api/models").json()["models"] if m["custom"]]
    assert [(m["name"], m["label"]) for m in listed] == [
        ("my-u2net", "my-u2net (custom, u2net family)"),
        ("my_dis", "my_dis (custom, isnet family)"),
    ]


def test_client_bench_sends_an_isnet_model_its_own_size(server, capsys) -> None:
    """``bench`` resizes the photos to the served model's size (1024² here), not U²-Net's."""
    argv = ["bench", "my_dis", str(PHOTOS[1]), "--url", server.grpc_url, "--json"]
    assert client_main([*argv, "--concurrency", "1", "--requests", "1", "--windows", "1"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["model"] == "my_dis_onnx"
    assert [(r["requests"], r["errors"]) for r in report["rows"]] == [(1, 0)]
