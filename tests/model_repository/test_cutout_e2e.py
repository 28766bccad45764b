"""The ``cutout`` model end to end, against the real embedded Triton: same bytes as the
client-side cut for every option, INVALID_ARG for every bad input without harm to the next
request, each concurrent request gets its own image, and plain KServe v2 HTTP works."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from PIL import Image
from tritonclient.utils import InferenceServerException

from client import Cutter
from client.cutout import CutoutModel
from tests.bad_files import png_bomb_bytes, truncated_jpeg_bytes, wide_png_bytes
from tests.data import PHOTO_IDS, PHOTOS
from tests.photo_modes import heic, rgb_profile
from tests.reference_masks import ReferenceCutter
from u2net.contract import CUTOUT
from u2net.image.matting import MattingOptions
from u2net.job import CutResult
from u2net.options import OutputOptions, to_parameters

MODEL = "u2netp"
INVALID = "StatusCode.INVALID_ARGUMENT"
OPTIONS = {
    "default": OutputOptions(),  # composite "clean"
    "composite-rembg": OutputOptions(composite="rembg"),
    "composite-straight": OutputOptions(composite="straight"),
    "only-mask": OutputOptions(only_mask=True),
    "bgcolor": OutputOptions(bgcolor=(20, 200, 60, 255)),
    "bgcolor-translucent": OutputOptions(bgcolor=(0, 0, 255, 100)),
    "webp": OutputOptions(fmt="webp"),
    "jpg": OutputOptions(fmt="jpg", bgcolor=(255, 255, 255, 255)),
    "png-level-6": OutputOptions(png_compression=6),
    "post-process": OutputOptions(post_process=True),
    "crop-margin": OutputOptions(crop=True, crop_margin=12),
    "max-output-pixels": OutputOptions(max_output_pixels=40_000),
}


@pytest.fixture(scope="module")
def cutout(triton_server) -> Iterator[CutoutModel]:
    with_model = CutoutModel(triton_server.grpc_url)
    yield with_model
    with_model.close()


@pytest.fixture(scope="module")
def local(triton_server) -> Iterator[Cutter]:
    """The client-side cut each cutout answer is compared with (each photo's mask asked of
    the server once: tests/reference_masks.py)."""
    with ReferenceCutter(triton_server.grpc_url, MODEL) as cutter:
        yield cutter


def _remote(cutout: CutoutModel, data: bytes, options: OutputOptions) -> CutResult:
    return cutout.cut_bytes(data, to_parameters(options, MODEL))


# The defaults on each kind of sample photo (PNG with an ICC profile, as chelsea.png; PNG
# without one, as motorcycle_left.png; JPEG), and each other option once, on the photos in
# turn: every option's code path and every photo, without the full 5 x 10 product (same
# paths again).
DEFAULT_PHOTOS = ("astronaut.png", "coffee.png", "rocket.jpg")
CASES = [
    pytest.param(p, "default", id=f"{p.name}-default") for p in PHOTOS if p.name in DEFAULT_PHOTOS
] + [
    pytest.param(PHOTOS[n % len(PHOTOS)], o, id=f"{PHOTO_IDS[n % len(PHOTOS)]}-{o}")
    for n, o in enumerate(o for o in OPTIONS if o != "default")
]


@pytest.mark.parametrize(("photo", "option"), CASES)
def test_cutout_equals_the_client_side_cut(
    cutout: CutoutModel, local: Cutter, photo: Path, option: str
) -> None:
    options = OPTIONS[option]
    remote = _remote(cutout, photo.read_bytes(), options)
    # same pixels, same encoder: same bytes (the encoders' exactness:
    # tests/u2net/image/test_encoders.py)
    assert remote.data == local.cut_file(photo, options)
    assert Image.open(io.BytesIO(remote.data)).size == remote.size  # the size it reports


def test_cutout_alpha_matting_equals_the_client_side_cut(
    cutout: CutoutModel, local: Cutter, tmp_path: Path
) -> None:
    small = tmp_path / "small.png"
    Image.open(PHOTOS[1]).resize((150, 100)).save(small)
    options = OutputOptions(matting=MattingOptions(235, 10, 5))
    assert _remote(cutout, small.read_bytes(), options).data == local.cut_file(small, options)


def _exif_rotated(photo: Image.Image, path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    photo.save(path, exif=exif.tobytes())


INPUT_FORMATS = {
    "webp": lambda photo, path: photo.save(path, lossless=True),
    "tiff": lambda photo, path: photo.save(path),
    "bmp": lambda photo, path: photo.save(path),
    "gif": lambda photo, path: photo.convert("P").save(path),
    "exif-rotated.jpg": _exif_rotated,
    "grey.png": lambda photo, path: photo.convert("L").save(path),
}


@pytest.mark.parametrize("kind", list(INPUT_FORMATS))
def test_every_input_format_equals_the_client_side_cut(
    cutout: CutoutModel, local: Cutter, tmp_path: Path, kind: str
) -> None:
    """The bytes of each format `cut` reads go to cutout as they are; same result as `cut`."""
    path = tmp_path / f"photo.{kind}"
    INPUT_FORMATS[kind](Image.open(PHOTOS[1]).convert("RGB"), path)
    options = OutputOptions()
    assert _remote(cutout, path.read_bytes(), options).data == local.cut_file(path, options)


def test_a_rotated_heic_with_a_profile_gets_the_8bit_photos_mask_and_keeps_the_profile(
    cutout: CutoutModel, local: Cutter
) -> None:
    """A phone's photo: HEIC, turned by its orientation, colour profile kept in the WebP."""
    photo = Image.open(PHOTOS[1]).convert("RGB")
    icc = rgb_profile()
    result = _remote(cutout, heic(photo, orientation=6, icc=icc), OutputOptions(fmt="webp"))
    got = Image.open(io.BytesIO(result.data))
    upright = photo.transpose(Image.Transpose.ROTATE_270)
    assert got.size == upright.size and got.info.get("icc_profile") == icc
    expected = np.asarray(local.cut(upright, OutputOptions(only_mask=True)), dtype=np.int16)
    alpha = np.asarray(got, dtype=np.int16)[..., 3]
    assert np.abs(alpha - expected).max() <= 1


def test_box_is_the_foreground_in_result_pixels(cutout: CutoutModel) -> None:
    full = _remote(cutout, PHOTOS[0].read_bytes(), OutputOptions(only_mask=True))
    cropped = _remote(cutout, PHOTOS[0].read_bytes(), OutputOptions(only_mask=True, crop=True))
    left, top, width, height = full.box
    assert 0 < width <= full.size[0] and 0 < height <= full.size[1]
    assert cropped.size == (width, height) and cropped.box == (0, 0, width, height)
    mask = np.asarray(Image.open(io.BytesIO(full.data)))
    outside = mask.copy()
    outside[top : top + height, left : left + width] = 0
    assert outside.max() <= 10 < mask[top : top + height, left : left + width].max()


BAD_INPUTS = {
    "empty": (b"", {}, "empty input"),
    "truncated": (truncated_jpeg_bytes(), {}, "truncated"),
    "not-an-image": (b"these are notes, not a photo\n" * 20, {}, "not an image"),
    "pixel-bomb": (png_bomb_bytes(), {}, "expected at most 100,000,000 pixels"),
    "request-max-pixels": (None, {"max_pixels": 1000}, "expected at most 1,000 pixels"),
    "unknown-model": (None, {"model": "u2net_cloth_seg"}, "parameter model: expected one of"),
    "bad-bgcolor": (None, {"bgcolor": "red"}, "parameter bgcolor: expected R,G,B"),
    "bad-format": (
        None,
        {"format": "bmp"},
        "parameter format: expected one of png, webp, jpg",
    ),
    "bad-flag": (None, {"crop": "maybe"}, "parameter crop: expected true or false"),
    "bad-number": (None, {"crop_margin": "wide"}, "parameter crop_margin: expected a whole"),
    "bad-threshold": (
        None,
        {"alpha_matting": True, "alpha_matting_erode_size": 300},
        "parameter alpha_matting_erode_size: expected 0..255, got 300",
    ),
    "unknown-parameter": (None, {"colour": "red"}, "expected parameters from model"),
    "too-wide-for-webp": (
        wide_png_bytes(),
        {"format": "webp"},
        "format webp: expected at most 16383 px per side, got 16400x48",
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS), ids=list(BAD_INPUTS))
def test_bad_input_is_invalid_arg_and_the_next_request_works(
    cutout: CutoutModel, triton_server, case: str
) -> None:
    data, params, says = BAD_INPUTS[case]
    client = grpcclient.InferenceServerClient(triton_server.grpc_url)
    tensor = grpcclient.InferInput(CUTOUT.input_name, [1], CUTOUT.bytes_dtype)
    payload = PHOTOS[0].read_bytes() if data is None else data
    tensor.set_data_from_numpy(np.array([payload], dtype=np.object_))
    with pytest.raises(InferenceServerException) as info:
        client.infer(CUTOUT.name, [tensor], parameters={"model": MODEL, **params})
    assert info.value.status() == INVALID
    message = info.value.message()
    assert says in message and "\n" not in message and "Traceback" not in message
    assert (
        _remote(cutout, PHOTOS[1].read_bytes(), OutputOptions()).size == Image.open(PHOTOS[1]).size
    )


@pytest.mark.parametrize(
    ("params", "names"),
    [({}, "u2net_trt or u2net_onnx"), ({"model": "u2net_onnx"}, "u2net_onnx")],
    ids=["default-model-is-u2net", "served-name"],
)
def test_a_known_model_that_is_not_loaded_is_unavailable(
    triton_server, params: dict, names: str
) -> None:
    """The session's server loads u2netp only: u2net (the default) is known, not loaded."""
    client = grpcclient.InferenceServerClient(triton_server.grpc_url)
    tensor = grpcclient.InferInput(CUTOUT.input_name, [1], CUTOUT.bytes_dtype)
    tensor.set_data_from_numpy(np.array([PHOTOS[0].read_bytes()], dtype=np.object_))
    with pytest.raises(InferenceServerException) as info:
        client.infer(CUTOUT.name, [tensor], parameters=params)
    assert info.value.status() == "StatusCode.UNAVAILABLE"
    assert info.value.message() == f"model {names} is not loaded on this server"


def test_concurrent_requests_each_get_their_own_image(cutout: CutoutModel, local: Cutter) -> None:
    """Five different photos at once, more than cutout's instances: each its own mask."""
    options = OutputOptions(only_mask=True)
    expected = {p.name: local.cut_file(p, options) for p in PHOTOS}
    results: dict[str, list[bytes]] = {p.name: [] for p in PHOTOS}

    def send(photo: Path) -> None:
        results[photo.name].append(_remote(cutout, photo.read_bytes(), options).data)

    threads = [threading.Thread(target=send, args=(p,)) for p in PHOTOS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert results == {name: [data] for name, data in expected.items()}


def test_raw_http_with_binary_data(triton_server, local: Cutter) -> None:
    """The path a non-Python caller takes: KServe v2 over HTTP, binary data extension."""
    tensor = httpclient.InferInput(CUTOUT.input_name, [1], CUTOUT.bytes_dtype)
    tensor.set_data_from_numpy(
        np.array([PHOTOS[2].read_bytes()], dtype=np.object_), binary_data=True
    )
    outputs = [httpclient.InferRequestedOutput(CUTOUT.output_name, binary_data=True)]
    outputs += [httpclient.InferRequestedOutput(n) for n in (CUTOUT.size_name, CUTOUT.box_name)]
    with httpclient.InferenceServerClient(triton_server.http_url) as client:
        result = client.infer(
            CUTOUT.name, [tensor], outputs=outputs, parameters={"model": MODEL, "bgcolor": "0,0,0"}
        )
    data = result.as_numpy(CUTOUT.output_name)[0]
    assert data == local.cut_file(PHOTOS[2], OutputOptions(bgcolor=(0, 0, 0, 255)))
    assert list(result.as_numpy(CUTOUT.size_name)) == list(Image.open(PHOTOS[2]).size)
    assert json.loads(json.dumps(result.get_response()))["model_name"] == CUTOUT.name
