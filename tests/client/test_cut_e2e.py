"""End to end against the real embedded Triton server, with real photos."""

from __future__ import annotations

import asyncio
import shutil
import socket
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from client import AsyncCutter, Cutter, ModelNotReady, OutputOptions, ServerUnavailable
from client.retry import RetryPolicy
from server.embedded import RunningServer
from tests import rembg_reference as ref
from tests.bad_files import BAD_FILES, write_bad_files
from tests.cli_run import assert_one_line_error, run_cli
from tests.data import PHOTO_IDS, PHOTOS, original_model
from tests.photo_modes import grey16_png, heic

MODEL = "u2netp_onnx"


@pytest.fixture(scope="module")
def cutter(triton_server) -> Cutter:
    with Cutter(triton_server.grpc_url, MODEL) as c:
        yield c


@pytest.mark.parametrize("photo", PHOTOS, ids=PHOTO_IDS)
def test_alpha_matches_rembg_within_one_grey_level(cutter: Cutter, photo: Path) -> None:
    original = Image.open(photo)
    out = cutter.cut(photo)
    assert out.mode == "RGBA" and out.size == original.size
    expected = np.asarray(ref.photo_mask(original_model("u2netp"), photo), dtype=np.int16)
    alpha = np.asarray(out, dtype=np.int16)[..., 3]
    assert np.abs(alpha - expected).max() <= 1
    # the default, clean: the photo's own pixels where opaque, nothing under alpha 0
    pixels, rgb = np.asarray(out), np.asarray(original.convert("RGB"))
    opaque, transparent = pixels[..., 3] == 255, pixels[..., 3] == 0
    np.testing.assert_array_equal(pixels[opaque, :3], rgb[opaque])
    assert pixels[transparent, :3].max(initial=0) == 0


def test_cut_accepts_path_bytes_and_pil(cutter: Cutter) -> None:
    photo = PHOTOS[1]
    results = [
        cutter.cut(src) for src in (photo, str(photo), photo.read_bytes(), Image.open(photo))
    ]
    for other in results[1:]:
        np.testing.assert_array_equal(np.asarray(other), np.asarray(results[0]))


def test_cut_many_keeps_order_and_reports_failures_in_place(cutter: Cutter) -> None:
    items = [PHOTOS[0], b"", PHOTOS[2], PHOTOS[3]]
    results = list(cutter.cut_many(items, OutputOptions(only_mask=True), return_exceptions=True))
    assert [type(r).__name__ for r in results] == ["Image", "InvalidImage", "Image", "Image"]
    sizes = [Image.open(p).size for p in (PHOTOS[0], PHOTOS[2], PHOTOS[3])]
    assert [r.size for r in results if isinstance(r, Image.Image)] == sizes


def test_async_cutter_matches_sync(triton_server, cutter: Cutter) -> None:
    async def run() -> list:
        async with AsyncCutter(triton_server.grpc_url, "u2netp", concurrency=3) as a:
            return [img async for img in a.cut_many(PHOTOS[:3])]

    results = asyncio.run(run())
    for photo, got in zip(PHOTOS[:3], results, strict=True):
        np.testing.assert_array_equal(np.asarray(got), np.asarray(cutter.cut(photo)))


def test_alias_picks_the_onnx_variant_when_no_trt(triton_server) -> None:
    with Cutter(triton_server.grpc_url, "u2netp") as c:
        assert c.connect() == "u2netp_onnx"


def test_unknown_model_lists_ready_ones(triton_server) -> None:
    with Cutter(triton_server.grpc_url, "u2net_trt") as c, pytest.raises(ModelNotReady) as info:
        c.cut(PHOTOS[0])
    assert "ready models: u2netp_onnx" in str(info.value)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_server_down_is_one_clear_error() -> None:
    with Cutter(f"127.0.0.1:{_free_port()}", MODEL) as c, pytest.raises(ServerUnavailable):
        c.cut(PHOTOS[0])


async def _first_use(how: str, url: str, model: str, **kwargs: object) -> None:
    """Open an AsyncCutter (inside the loop, as grpc.aio needs) and use it one way."""
    async with AsyncCutter(url, model, **kwargs) as cutter:  # type: ignore[arg-type]
        if how == "connect":
            await cutter.connect()
        else:
            async for _ in cutter.cut_many(PHOTOS[:2]):
                raise AssertionError("cut_many must fail before producing anything")


@pytest.mark.parametrize("how", ["connect", "cut_many"])
def test_async_cutter_server_down_is_server_unavailable(how: str) -> None:
    url = f"127.0.0.1:{_free_port()}"
    retry = RetryPolicy(retries=1, first_delay_s=0.05)
    with pytest.raises(ServerUnavailable) as info:
        asyncio.run(_first_use(how, url, MODEL, retry=retry))
    assert str(info.value).startswith(f"no Triton server answering at {url}: ")
    assert "python -m server" in str(info.value)


@pytest.mark.parametrize("how", ["connect", "cut_many"])
def test_async_cutter_model_not_served_lists_ready_models(
    triton_server: RunningServer, how: str
) -> None:
    with pytest.raises(ModelNotReady) as info:
        asyncio.run(_first_use(how, triton_server.grpc_url, "u2net_trt"))
    assert str(info.value) == (
        "model u2net_trt is not ready on the server; ready models: u2netp_onnx"
    )


# ---- the command line ------------------------------------------------------------------


def _cli(server, *args: str | Path):
    return run_cli("client", "cut", "--url", server.grpc_url, "--model", MODEL, *args)


@pytest.fixture
def photo_tree(tmp_path: Path) -> Path:
    """Real photos in nested folders, two of them with the same name."""
    root = tmp_path / "photos"
    for rel, src in [
        ("a/astronaut.png", PHOTOS[0]),
        ("a/b/chelsea.png", PHOTOS[1]),
        ("c/chelsea.png", PHOTOS[1]),
        ("rocket.jpg", PHOTOS[3]),
    ]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src, root / rel)
    return root


def test_cli_single_file_default_output(triton_server, tmp_path: Path) -> None:
    src = tmp_path / "coffee.png"
    shutil.copy(PHOTOS[2], src)
    done = _cli(triton_server, src)
    assert done.returncode == 0, done.stderr
    out = Image.open(tmp_path / "coffee.out.png")
    assert out.mode == "RGBA" and out.size == Image.open(src).size


def test_cli_a_16bit_scan_and_a_heic_get_the_8bit_photos_masks(
    triton_server, cutter: Cutter, tmp_path: Path
) -> None:
    """The issue's 16-bit grey PNG (its mask was noise) and a phone's HEIC, found in a folder."""
    photo = Image.open(PHOTOS[1]).convert("RGB")
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "scan.png").write_bytes(grey16_png(photo))
    (folder / "phone.heic").write_bytes(heic(photo))
    done = _cli(triton_server, folder, "-o", tmp_path / "out", "--only-mask")
    assert done.returncode == 0, done.stderr
    mask_only = OutputOptions(only_mask=True)
    for name, original in [("scan", photo.convert("L")), ("phone", photo)]:
        got = np.asarray(Image.open(tmp_path / "out" / f"{name}.out.png"), dtype=np.int16)
        expected = np.asarray(cutter.cut(original, mask_only), dtype=np.int16)
        assert np.abs(got - expected).max() <= 1, name


def test_cli_folder_is_mirrored_then_skip_existing(
    triton_server, photo_tree: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    done = _cli(triton_server, photo_tree, "-o", out, "--only-mask")
    assert done.returncode == 0, done.stderr
    made = sorted(str(p.relative_to(out)) for p in out.rglob("*.png"))
    assert made == [
        "a/astronaut.out.png",
        "a/b/chelsea.out.png",
        "c/chelsea.out.png",
        "rocket.out.png",
    ]
    assert "done 4, failed 0" in done.stderr
    assert Image.open(out / "a" / "astronaut.out.png").mode == "L"

    (out / "rocket.out.png").unlink()
    again = _cli(triton_server, photo_tree, "-o", out, "--skip-existing")
    assert again.returncode == 0, again.stderr
    assert "done 1, failed 0, skipped 3" in again.stderr
    assert not list(out.rglob("*.part")), "temp files left behind"


@pytest.mark.parametrize("where", [[], ["--server-side"]], ids=["client-side", "server-side"])
def test_cli_bad_files_are_listed_and_the_rest_carries_on(
    triton_server, tmp_path: Path, where: list[str]
) -> None:
    folder = tmp_path / "mixed"
    bad = write_bad_files(folder)
    shutil.copy(PHOTOS[0], folder / "good.png")
    out = tmp_path / "out"
    done = _cli(triton_server, folder, "-o", out, *where)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert (out / "good.out.png").is_file()
    failed = [line for line in done.stderr.splitlines() if line.startswith("failed: ")]
    assert len(failed) == len(BAD_FILES)
    for key, (_name, _content, says) in BAD_FILES.items():
        line = next(x for x in failed if str(bad[key]) in x)
        assert says in line, line
        # decoded here, the limit is this command's flag, and the line says so
        assert line.endswith("; raise --max-pixels to allow it") == (
            key.startswith("pixel-bomb") and not where
        ), line
    assert f"done 1, failed {len(BAD_FILES)}" in done.stderr


@pytest.mark.parametrize(
    ("source", "flags"),
    [
        pytest.param(".", [], id="folder"),  # the tree mirrored, each file as the client cuts it
        # the options' way to cutout (each option alone: tests/model_repository/)
        pytest.param(
            "rocket.jpg", ["--only-mask", "--crop", "--max-output-pixels", "90000"], id="options"
        ),
    ],
)
def test_cli_server_side_writes_the_same_files(
    triton_server, photo_tree: Path, tmp_path: Path, source: str, flags: list[str]
) -> None:
    local, remote = tmp_path / "local", tmp_path / "remote"
    assert _cli(triton_server, photo_tree / source, "-o", local, *flags).returncode == 0
    done = _cli(triton_server, photo_tree / source, "-o", remote, "--server-side", *flags)
    assert done.returncode == 0, done.stderr
    made = sorted(p.relative_to(remote) for p in remote.rglob("*.png"))
    assert made == sorted(p.relative_to(local) for p in local.rglob("*.png")) and made
    assert all((remote / rel).read_bytes() == (local / rel).read_bytes() for rel in made)


def test_cli_unwritable_output_is_listed(triton_server, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    done = _cli(triton_server, PHOTOS[0], "-o", blocker / "out.png")
    assert done.returncode == 1
    assert "cannot write" in done.stderr and "Traceback" not in done.stderr


def test_cli_never_overwrites_an_input(triton_server, tmp_path: Path) -> None:
    src = tmp_path / "keep.png"
    shutil.copy(PHOTOS[0], src)
    before = src.read_bytes()
    done = _cli(triton_server, src, "-o", src)
    assert done.returncode == 1 and "refusing to overwrite input" in done.stderr
    assert src.read_bytes() == before


def test_cli_url_from_environment(tmp_path: Path) -> None:
    url = f"127.0.0.1:{_free_port()}"
    done = run_cli(
        "client", "cut", PHOTOS[0], "-o", tmp_path / "x.png", env={"U2NET_TRITON_URL": url}
    )
    assert_one_line_error(done, url)


def test_cli_model_missing_lists_ready_models(triton_server, tmp_path: Path) -> None:
    done = run_cli(
        "client",
        "cut",
        "--url",
        triton_server.grpc_url,
        "--model",
        "u2net",
        PHOTOS[0],
        "-o",
        tmp_path / "x.png",
    )
    assert_one_line_error(done, "u2net_trt or u2net_onnx", "ready models: u2netp_onnx")


def test_cli_post_process_mask(triton_server, tmp_path: Path) -> None:
    out = tmp_path / "mask.png"
    done = _cli(triton_server, PHOTOS[0], "-o", out, "--only-mask", "-ppm")
    assert done.returncode == 0, done.stderr
    values = set(np.unique(np.asarray(Image.open(out))))
    assert values == {0, 255}


def test_cli_alpha_matting(triton_server, tmp_path: Path) -> None:
    pytest.importorskip("pymatting", reason="the [matting] extra is not installed")
    small = tmp_path / "small.png"
    Image.open(PHOTOS[1]).resize((150, 100)).save(small)
    out = tmp_path / "matted.png"
    done = _cli(triton_server, small, "-o", out, "-a", "-af", "235", "-ae", "5")
    assert done.returncode == 0, done.stderr
    alpha = np.asarray(Image.open(out))[..., 3]
    assert Image.open(out).size == (150, 100) and 0 < (alpha == 255).mean() < 1
