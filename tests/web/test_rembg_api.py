"""rembg's API on the real gateway and Triton: the bytes equal ``python -m client cut``'s, and
the default answer has the perceptual hash of rembg's own ``remove()`` (rembg's test)."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests import rembg_reference as ref
from tests.data import PHOTOS, original_model
from tests.web.conftest import cli_cut
from tests.web.serving import MODEL, config_for, serve
from web.config import WebConfig
from web.rembg_params import rembg_options

OPTIONS = [
    # (form fields, the CLI's flags for the same, format); rocket.jpg with no fields is
    # test_default_cut_equals_the_cli_byte_for_byte[rocket.jpg]
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


# each kind of sample photo once: PNG with an ICC profile (as chelsea.png), PNG without one
# (as motorcycle_left.png), JPEG with one
DEFAULT_PHOTOS = [p for p in PHOTOS if p.name in ("astronaut.png", "coffee.png", "rocket.jpg")]


@pytest.mark.parametrize("photo", DEFAULT_PHOTOS, ids=[p.name for p in DEFAULT_PHOTOS])
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


@pytest.fixture(scope="module")
def http_for(request: pytest.FixtureRequest) -> Iterator[Callable[[str], httpx.Client]]:
    """A gateway per model: the session's (u2netp), else one on the session's server that
    has u2net too."""
    clients: dict[str, httpx.Client] = {}
    with ExitStack() as stack:

        def get(model: str) -> httpx.Client:
            if model == MODEL:
                return request.getfixturevalue("http")
            if model not in clients:
                triton = request.getfixturevalue("both_models_server")
                served = stack.enter_context(serve(config_for(triton.grpc_url)))
                clients[model] = stack.enter_context(served.client())
            return clients[model]

        yield get


@pytest.mark.parametrize(
    ("model", "photos"),
    [
        pytest.param("u2netp", PHOTOS, id="u2netp"),
        # u2net's own masks on every photo: tests/convert/test_graph.py, within one grey level
        # of rembg's; here its way through the gateway, on one
        pytest.param("u2net", PHOTOS[:1], id="u2net", marks=pytest.mark.slow),
    ],
)
def test_default_answer_has_the_hash_of_rembgs_remove(
    http_for, model: str, photos: list[Path]
) -> None:
    """rembg's tests/test_remove.py: imagehash's average hash of ``remove(photo)`` (here
    rembg's recipe on the original ONNX, tests/rembg_reference.py) equals ours, per photo."""
    imagehash = pytest.importorskip("imagehash")
    original = original_model(model)
    http = http_for(model)
    for photo in photos:
        response = post(http, photo, {"model": model})
        assert response.status_code == 200, response.text
        with Image.open(photo) as opened:
            img = opened.convert("RGB")
        expected = ref.rembg_cutout(img, ref.photo_mask(original, photo))
        ours = imagehash.average_hash(Image.open(io.BytesIO(response.content)))
        assert ours == imagehash.average_hash(expected), photo.name
