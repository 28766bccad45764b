"""rembg's API on the real gateway and Triton: the bytes equal ``python -m client cut``'s."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests.data import PHOTO_IDS, PHOTOS
from tests.web.conftest import cli_cut
from tests.web.serving import MODEL
from web.config import WebConfig
from web.rembg_params import rembg_options

OPTIONS = [
    # (form fields, the CLI's flags for the same, format)
    pytest.param({}, [], "png", id="defaults"),
    pytest.param({"om": "true"}, ["--only-mask"], "png", id="only-mask"),
    pytest.param({"bgc": "0,128,255,255"}, ["--bgcolor", "0,128,255,255"], "png", id="bgc"),
    pytest.param({"bgc": "0,128,255,100"}, ["--bgcolor", "0,128,255,100"], "png", id="bgc-alpha"),
    pytest.param({"ppm": "true"}, ["-ppm"], "png", id="post-process"),
    pytest.param(
        {"a": "true", "af": "230", "ab": "15", "ae": "5"},
        ["-a", "-af", "230", "-ab", "15", "-ae", "5"],
        "png",
        id="alpha-matting",
    ),
    pytest.param({"format": "webp"}, ["--format", "webp"], "webp", id="webp"),
    pytest.param(
        {"format": "jpg", "bgc": "255,255,255"},
        ["--bgcolor", "255,255,255"],
        "jpg",
        id="jpg-over-white",
    ),
]

REMBG_COMPOSITE = ("--composite", "rembg")  # /api/remove's default: rembg's own image


def post(http: httpx.Client, photo: Path, fields: dict[str, str], **kwargs) -> httpx.Response:
    files = {"file": (photo.name, photo.read_bytes())}
    return http.post("/api/remove", files=files, data={"model": MODEL, **fields}, **kwargs)


@pytest.mark.parametrize("photo", PHOTOS, ids=PHOTO_IDS)
def test_default_cut_equals_the_cli_byte_for_byte(http, triton_server, tmp_path, photo) -> None:
    response = post(http, photo, {})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    expected = cli_cut(triton_server, photo, tmp_path / "cli.png", *REMBG_COMPOSITE)
    assert response.content == expected


@pytest.mark.parametrize(("fields", "flags", "fmt"), OPTIONS)
def test_rembg_options_equal_the_cli_byte_for_byte(
    http, triton_server, tmp_path, *, fields, flags, fmt
) -> None:
    photo = PHOTOS[3]  # rocket.jpg
    response = post(http, photo, fields)
    assert response.status_code == 200, response.text
    expected = cli_cut(triton_server, photo, tmp_path / f"cli.{fmt}", *flags, *REMBG_COMPOSITE)
    assert response.content == expected


def test_bgc_in_the_query_string_as_rembg_sends_it(http, triton_server, tmp_path) -> None:
    photo = PHOTOS[1]
    response = post(http, photo, {}, params={"bgc": "10,20,30,255"})
    assert response.status_code == 200, response.text
    flags = ("--bgcolor", "10,20,30,255", *REMBG_COMPOSITE)
    expected = cli_cut(triton_server, photo, tmp_path / "cli.png", *flags)
    assert response.content == expected


def test_rembg_defaults_but_the_model_is_u2net() -> None:
    model, options = rembg_options({}, "file", WebConfig(triton_url="x").default_model)
    assert model == "u2net"
    assert (options.only_mask, options.post_process, options.matting, options.bgcolor) == (
        False,
        False,
        None,
        None,
    )


def test_only_mask_is_a_grey_picture_of_the_photo_size(http) -> None:
    photo = PHOTOS[0]
    response = post(http, photo, {"om": "true"})
    with Image.open(photo) as original:
        size = original.size
    mask = Image.open(io.BytesIO(response.content))
    assert (mask.mode, mask.size) == ("L", size)
