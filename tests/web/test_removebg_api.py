"""remove.bg's API on the real gateway and Triton: bodies, sizes, formats, headers, JSON."""

from __future__ import annotations

import base64
import io
import zipfile

import numpy as np
import pytest
from PIL import Image

from tests.data import PHOTOS
from tests.web.conftest import cli_cut

PHOTO = PHOTOS[3]  # rocket.jpg, 640x427
ENDPOINT = "/v1.0/removebg"


def upload(http, fields: dict[str, str] | None = None, **kwargs):
    files = {"image_file": (PHOTO.name, PHOTO.read_bytes())}
    return http.post(ENDPOINT, files=files, data=fields or {}, **kwargs)


def b64() -> str:
    return base64.b64encode(PHOTO.read_bytes()).decode()


@pytest.mark.parametrize(
    ("fields", "flags", "fmt"),
    [
        pytest.param({"size": "full"}, [], "png", id="full"),
        pytest.param({"size": "auto"}, [], "png", id="auto"),
        pytest.param({}, ["--max-output-pixels", "250000"], "png", id="default-is-preview"),
        pytest.param({"size": "small"}, ["--max-output-pixels", "250000"], "png", id="small"),
        pytest.param(
            {"size": "medium", "format": "webp"},
            ["--format", "webp", "--max-output-pixels", "1500000"],
            "webp",
            id="medium-webp",
        ),
        pytest.param({"size": "full", "channels": "alpha"}, ["--only-mask"], "png", id="alpha"),
        pytest.param(
            {"size": "full", "bg_color": "81d4fa"},
            ["--bgcolor", "129,212,250,255"],
            "jpg",
            id="bg-hex-auto-is-jpg",
        ),
        pytest.param(
            {"size": "full", "bg_color": "green", "format": "png"},
            ["--bgcolor", "0,128,0,255"],
            "png",
            id="bg-name-png",
        ),
        pytest.param(
            {"size": "full", "format": "jpg"},
            ["--bgcolor", "255,255,255,255"],
            "jpg",
            id="jpg-over-white",
        ),
        pytest.param(
            {"size": "full", "crop": "true", "crop_margin": "30px"},
            ["--crop", "--crop-margin", "30"],
            "png",
            id="crop-30px",
        ),
        pytest.param(
            {"size": "full", "crop": "true", "crop_margin": "10%"},
            ["--crop", "--crop-margin", "64"],
            "png",
            id="crop-10pc-of-640",
        ),
    ],
)
def test_results_equal_the_cli_with_the_same_options(
    http, triton_server, tmp_path, *, fields, flags, fmt
) -> None:
    response = upload(http, fields)
    assert response.status_code == 200, response.text
    expected = cli_cut(triton_server, PHOTO, tmp_path / f"cli.{fmt}", *flags)
    assert response.content == expected
    assert response.headers["content-type"] == {"png": "image/png", "jpg": "image/jpeg",
                                                "webp": "image/webp"}[fmt]  # fmt: skip


def test_preview_is_at_most_a_quarter_megapixel_and_headers_describe_it(http) -> None:
    response = upload(http, {"size": "preview"})
    image = Image.open(io.BytesIO(response.content))
    width, height = image.size
    assert width * height <= 250_000 and width / height == pytest.approx(640 / 427, rel=0.01)
    h = response.headers
    assert (int(h["X-Width"]), int(h["X-Height"])) == (width, height)
    assert h["X-Credits-Charged"] == "0" and h["X-Type"]
    alpha = np.asarray(image)[..., 3] > 10
    rows, cols = np.nonzero(alpha)
    box = (cols.min(), rows.min(), cols.max() - cols.min() + 1, rows.max() - rows.min() + 1)
    got = tuple(int(h[f"X-Foreground-{k}"]) for k in ("Left", "Top", "Width", "Height"))
    assert got == pytest.approx(box, abs=2)


FULL_PNG = {"size": "full", "format": "png"}


@pytest.fixture(scope="module")
def full_png(http):
    """The photo uploaded as multipart form data with ``FULL_PNG``'s fields, answered once."""
    response = upload(http, FULL_PNG)
    assert response.status_code == 200, response.text
    return response


@pytest.mark.parametrize("kind", ["multipart", "form-urlencoded", "json"])
def test_the_three_body_kinds_give_the_same_bytes(http, full_png, kind) -> None:
    fields = FULL_PNG
    if kind == "multipart":
        response = upload(http, fields)  # and the same answer to the same request again
    elif kind == "form-urlencoded":
        response = http.post(ENDPOINT, data={**fields, "image_file_b64": b64()})
    else:
        response = http.post(ENDPOINT, json={**fields, "image_file_b64": b64(), "crop": False})
    assert response.status_code == 200, response.text
    assert response.content == full_png.content


def test_accept_json_gives_remove_bgs_shape(http) -> None:
    response = upload(http, {"size": "full"}, headers={"Accept": "application/json"})
    data = response.json()["data"]
    assert base64.b64decode(data["result_b64"]) == upload(http, {"size": "full"}).content
    headers = response.headers
    for name in ("top", "left", "width", "height"):
        assert data[f"foreground_{name}"] == int(headers[f"X-Foreground-{name.title()}"])


def test_zip_holds_the_colour_jpeg_and_the_alpha_png(http, triton_server, tmp_path) -> None:
    response = upload(http, {"size": "full", "format": "zip"})
    assert response.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert sorted(archive.namelist()) == ["alpha.png", "color.jpg"]
    mask = cli_cut(triton_server, PHOTO, tmp_path / "mask.png", "--only-mask")
    assert archive.read("alpha.png") == mask
    colour = np.asarray(Image.open(io.BytesIO(archive.read("color.jpg"))), dtype=np.int16)
    photo = np.asarray(Image.open(PHOTO).convert("RGB"), dtype=np.int16)
    alpha = np.asarray(Image.open(io.BytesIO(mask)))
    assert colour.shape == photo.shape
    # where the subject is opaque the colour image is the photo (up to JPEG's loss)
    assert np.abs(colour - photo)[alpha == 255].mean() < 4


COMPOSITION = {
    "scale": "60%", "position": "20% 50%", "roi": "0% 10% 100% 100%", "add_shadow": "true",
    "shadow_opacity": "80", "semitransparency": "false", "type": "product", "type_level": "2",
}  # fmt: skip
COMPOSITION_FLAGS = [
    "--scale", "60%", "--position", "20% 50%", "--roi", "0% 10% 100% 100%", "--shadow",
    "--shadow-opacity", "80", "--no-semitransparency",
]  # fmt: skip


def test_the_composition_fields_give_the_clis_cut(http, full_png, triton_server, tmp_path) -> None:
    """A background photo, scale, position, ROI, shadow and a hard matte: remove.bg's fields
    and the CLI's flags give the same bytes; X-Type reports the type asked for."""
    background = PHOTOS[2]  # coffee.png
    files = {
        "image_file": (PHOTO.name, PHOTO.read_bytes()),
        "bg_image_file": (background.name, background.read_bytes()),
    }
    fields = {"size": "full", "format": "png", **COMPOSITION}
    response = http.post(ENDPOINT, files=files, data=fields)
    assert response.status_code == 200, response.text
    assert response.headers["X-Type"] == "product"
    flags = ["--bg-image", str(background), *COMPOSITION_FLAGS]
    assert response.content == cli_cut(triton_server, PHOTO, tmp_path / "cli.png", *flags)
    plain = full_png
    assert plain.headers["X-Type"] == "other"  # type=auto: nothing was detected
    assert Image.open(io.BytesIO(response.content)).mode == "RGB"  # the photo covers it all
    assert response.headers["X-Foreground-Left"] != plain.headers["X-Foreground-Left"]


def test_auto_format_over_a_background_photo_is_jpeg(http) -> None:
    files = {
        "image_file": (PHOTO.name, PHOTO.read_bytes()),
        "bg_image_file": ("bg.png", PHOTOS[2].read_bytes()),
    }
    response = http.post(ENDPOINT, files=files)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/jpeg"


def test_account_answers_in_remove_bgs_shape(http) -> None:
    attributes = http.get("/v1.0/account").json()["data"]["attributes"]
    assert attributes["credits"]["total"] > 0 and attributes["api"]["free_calls"] > 0


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/v1.0/nowhere", 404, "not_found"),
        ("GET", "/v1.0/removebg", 405, "method_not_allowed"),
    ],
)
def test_routing_errors_under_v1_are_in_remove_bgs_shape(
    http, method: str, path: str, status: int, code: str
) -> None:
    response = http.request(method, path)
    assert response.status_code == status
    (error,) = response.json()["errors"]
    assert error["code"] == code and error["title"]


def test_routing_errors_elsewhere_keep_fastapis_shape(http) -> None:
    response = http.get("/api/nowhere")
    assert (response.status_code, response.json()) == (404, {"detail": "Not Found"})
