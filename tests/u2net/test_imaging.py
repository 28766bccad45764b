"""The pure image code: decoding any mode, EXIF, frames, limits, alpha, colours, formats."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from tests.bad_files import BAD_FILES, png_bomb_bytes
from tests.data import PHOTOS
from u2net.contract import CONTRACT
from u2net.errors import InvalidImage
from u2net.imaging import (
    cutout,
    encode,
    header_size,
    mask_on_grid,
    mask_to_size,
    open_rgb,
    render,
    to_model_input,
)
from u2net.options import OutputOptions, parse_color
from u2net.postprocess import post_process_mask
from u2net.samples import PROBE_NAME

ORIENTATION = 0x0112  # the EXIF tag
ASTRONAUT = next(p for p in PHOTOS if p.name == PROBE_NAME)


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    return Image.open(ASTRONAUT).convert("RGB").resize((64, 48))


def _as_mode(rgb: Image.Image, mode: str) -> Image.Image:
    if mode == "P+transparency":
        p = rgb.convert("P")
        p.info["transparency"] = 0
        return p
    if mode == "I;16":
        return Image.fromarray(np.asarray(rgb.convert("L"), dtype=np.uint16) * 257)
    return rgb.convert(mode)


# 8-bit modes; the deep ones (I;16, I, F), which convert("RGB") clips: tests/u2net/test_decode.py
MODES = ["1", "L", "LA", "P", "P+transparency", "RGBA", "CMYK"]


@pytest.mark.parametrize("mode", MODES)
def test_every_mode_becomes_rgb_as_rembg_does(photo: Image.Image, mode: str) -> None:
    image = _as_mode(photo, mode)
    got = open_rgb(image)
    assert got.mode == "RGB" and got.size == photo.size
    np.testing.assert_array_equal(np.asarray(got), np.asarray(image.convert("RGB")))


@pytest.mark.parametrize("mode", ["L", "LA", "P", "RGBA", "CMYK", "I;16"])
def test_encoded_modes_decode_from_bytes(photo: Image.Image, mode: str) -> None:
    image = _as_mode(photo, mode)
    buffer = io.BytesIO()
    image.save(buffer, format="TIFF" if mode in ("CMYK", "I;16") else "PNG")
    got = open_rgb(buffer.getvalue())
    assert got.mode == "RGB" and got.size == photo.size


@pytest.mark.parametrize("given", ["path", "bytes", "image"])
def test_exif_orientation_is_applied_and_a_callers_image_left_as_it_was(
    photo: Image.Image, tmp_path: Path, given: str
) -> None:
    exif = Image.Exif()
    exif[ORIENTATION] = 6  # rotate 90° clockwise to display
    path = tmp_path / "rotated.jpg"
    photo.save(path, exif=exif.tobytes())
    callers = Image.open(path)
    got = open_rgb({"path": path, "bytes": path.read_bytes(), "image": callers}[given])
    assert got.size == (photo.height, photo.width)
    upright = ImageOps.exif_transpose(Image.open(path))  # Pillow's own turn, of its own copy
    np.testing.assert_array_equal(np.asarray(got), np.asarray(upright))
    assert callers.size == photo.size and callers.getexif()[ORIENTATION] == 6


def test_animated_image_uses_first_frame(photo: Image.Image, tmp_path: Path) -> None:
    path = tmp_path / "anim.gif"
    frames = [photo, Image.new("RGB", photo.size, (255, 0, 0))]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=50)
    got = np.asarray(open_rgb(path), dtype=np.int16)
    first = np.asarray(Image.open(path).convert("RGB"), dtype=np.int16)
    np.testing.assert_array_equal(got, first)
    assert not (got == [255, 0, 0]).all()


@pytest.mark.parametrize(("name", "content", "says"), BAD_FILES.values(), ids=BAD_FILES.keys())
def test_bad_files_raise_invalid_image(
    tmp_path: Path, name: str, content: bytes, says: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InvalidImage, match=None) as info:
        open_rgb(path)
    assert says in str(info.value) and "\n" not in str(info.value)


def test_pixel_limit_is_configurable(photo: Image.Image) -> None:
    with pytest.raises(InvalidImage, match="expected at most 100 pixels"):
        open_rgb(photo, max_pixels=100)


# an error reaches HTTP clients, CLI users and Triton clients alike: no flag of one of them,
# and none of Pillow's wording (its guard has its own limit and speaks of attacks)
NOT_FOR_EVERY_READER = ("--max-pixels", "max_output_pixels", "Pillow", "DOS", "decompression")


@pytest.mark.parametrize(
    ("content", "max_pixels", "says"),
    [
        (png_bomb_bytes(11000, 11000), 100_000_000,
         "expected at most 100,000,000 pixels, got 11000x11000 = 121,000,000"),
        (png_bomb_bytes(20000, 20000), 100_000_000,
         "expected at most 100,000,000 pixels, got 400,000,000"),
        # a limit above Pillow's guard (twice Image.MAX_IMAGE_PIXELS): the guard is the limit
        (png_bomb_bytes(20000, 20000), 10**9,
         f"expected at most {2 * Image.MAX_IMAGE_PIXELS:,} pixels, got 400,000,000"),
    ],
    ids=["ours", "pillows-guard-too", "pillows-guard-first"],
)  # fmt: skip
def test_the_pixel_limit_names_one_limit_and_no_flag(content, max_pixels, says) -> None:
    for read in (open_rgb, header_size):
        with pytest.raises(InvalidImage) as info:
            read(content, max_pixels)
        assert str(info.value) == says
        assert not any(word in str(info.value) for word in NOT_FOR_EVERY_READER)


def test_the_header_size_is_the_upright_pictures(photo: Image.Image) -> None:
    """EXIF orientations 5..8 swap the sides, as decoding does (a roi is of the upright
    picture): read from the header alone."""
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    buffer = io.BytesIO()
    photo.save(buffer, format="JPEG", exif=exif.tobytes())
    assert header_size(buffer.getvalue()) == open_rgb(buffer.getvalue()).size == (48, 64)


def test_model_input_is_lanczos_320(photo: Image.Image) -> None:
    x = to_model_input(photo)
    assert x.shape == (CONTRACT.size, CONTRACT.size, CONTRACT.channels) and x.dtype == np.uint8
    expected = photo.resize((CONTRACT.size, CONTRACT.size), Image.Resampling.LANCZOS)
    np.testing.assert_array_equal(x, np.asarray(expected))


def _mask() -> np.ndarray:
    mask = np.zeros(CONTRACT.output_dims, dtype=np.uint8)
    mask[80:240, 80:240] = 255
    mask[100:120, 100:120] = 128
    return mask


def test_straight_alpha_keeps_rgb(photo: Image.Image) -> None:
    mask = mask_to_size(_mask(), photo.size)
    out = cutout(photo, mask)
    assert out.mode == "RGBA"
    np.testing.assert_array_equal(np.asarray(out)[..., :3], np.asarray(photo))
    np.testing.assert_array_equal(np.asarray(out)[..., 3], np.asarray(mask))


def test_mask_resize_is_lanczos(photo: Image.Image) -> None:
    got = mask_to_size(_mask(), photo.size)
    expected = Image.fromarray(_mask()).resize(photo.size, Image.Resampling.LANCZOS)
    assert got.mode == "L"
    np.testing.assert_array_equal(np.asarray(got), np.asarray(expected))


@pytest.mark.parametrize(
    ("shape", "grid"),
    [((1024, 1024), (320, 320)), ((320, 320), (1024, 1024)), ((40, 30), (30, 50))],
)
def test_a_mask_onto_another_grid_is_its_lanczos_resize(shape, grid) -> None:
    """[H, W] both ways: a non-square grid catches a width and height swapped."""
    mask = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    got = mask_on_grid(mask, grid)
    expected = Image.fromarray(mask).resize(grid[::-1], Image.Resampling.LANCZOS)
    assert got.dtype == np.uint8 and got.shape == grid
    np.testing.assert_array_equal(got, np.asarray(expected))


@pytest.mark.parametrize("value", [0, 255])
def test_a_flat_mask_stays_flat_on_another_grid(value: int) -> None:
    found = mask_on_grid(np.full((1024, 1024), value, np.uint8), (320, 320))
    assert found.shape == (320, 320) and (found == value).all()


def test_a_mask_already_on_the_grid_is_not_resized() -> None:
    mask = np.random.default_rng(1).integers(0, 256, (320, 320), dtype=np.uint8)
    assert mask_on_grid(mask, (320, 320)) is mask


@pytest.mark.parametrize(
    ("shape", "grid"), [((1, 320, 320), (320, 320)), ((320, 320), (1, 320, 320))]
)
def test_only_a_2d_mask_goes_onto_a_2d_grid(shape, grid) -> None:
    with pytest.raises(ValueError, match=r"expected a \[H, W\] mask onto a \[H, W\] grid, got"):
        mask_on_grid(np.zeros(shape, np.uint8), grid)


@pytest.mark.parametrize(("color", "mode"), [((0, 255, 0, 255), "RGB"), ((0, 0, 255, 128), "RGBA")])
def test_render_over_bgcolor_pixel_by_pixel(photo: Image.Image, color: tuple, mode: str) -> None:
    """``straight``: every pixel is the photo "over" the colour (Porter-Duff), alpha from the
    resized mask."""
    mask_320 = np.zeros(CONTRACT.output_dims, dtype=np.uint8)
    mask_320[:, CONTRACT.size // 2 :] = 255
    out = render(photo, mask_320, OutputOptions(bgcolor=color, composite="straight"))
    assert out.mode == mode
    alpha = np.asarray(mask_to_size(mask_320, photo.size), dtype=np.float64)[..., None] / 255
    background_alpha = color[3] / 255
    out_alpha = alpha + background_alpha * (1 - alpha)
    rgb = np.asarray(photo, dtype=np.float64) * alpha
    rgb += np.asarray(color[:3], dtype=np.float64) * background_alpha * (1 - alpha)
    rgb /= out_alpha
    expected = rgb if mode == "RGB" else np.concatenate([rgb, out_alpha * 255], axis=2)
    diff = np.abs(np.asarray(out, dtype=np.float64) - expected)
    assert diff.max() <= 1.0  # Pillow's fixed-point rounding
    assert (np.asarray(out)[:, 0, :3] == color[:3]).all()  # pure background on the left


@pytest.mark.parametrize(
    ("options", "mode", "fmt"),
    [
        (OutputOptions(), "RGBA", "PNG"),
        (OutputOptions(fmt="webp"), "RGBA", "WEBP"),
        (OutputOptions(fmt="jpg", bgcolor=(255, 255, 255, 255)), "RGB", "JPEG"),
        (OutputOptions(only_mask=True), "L", "PNG"),
        (OutputOptions(only_mask=True, fmt="jpg"), "L", "JPEG"),
    ],
    ids=["png", "webp", "jpg-bgcolor", "mask-png", "mask-jpg"],
)
def test_render_and_encode(photo: Image.Image, options: OutputOptions, mode: str, fmt: str) -> None:
    data = encode(render(photo, _mask(), options), options)
    back = Image.open(io.BytesIO(data))
    assert (back.format, back.mode, back.size) == (fmt, mode, photo.size)


@pytest.mark.parametrize(
    ("fmt", "size", "says"),
    [
        ("webp", (16384, 8), "format webp: expected at most 16383 px per side, got 16384x8"),
        ("jpg", (8, 65501), "format jpg: expected at most 65500 px per side, got 8x65501"),
    ],
)
def test_a_result_the_encoder_cannot_write_is_one_clear_line(
    fmt: str, size: tuple[int, int], says: str
) -> None:
    with pytest.raises(InvalidImage, match=says) as info:
        encode(Image.new("RGBA", size), OutputOptions(fmt=fmt, bgcolor=(0, 0, 0, 255)))
    assert str(info.value).endswith("; ask for png, or a smaller result")  # no one API's field


def test_the_largest_webp_side_still_encodes() -> None:
    data = encode(Image.new("RGBA", (16383, 8)), OutputOptions(fmt="webp"))
    assert Image.open(io.BytesIO(data)).size == (16383, 8)


def test_png_is_lossless(photo: Image.Image) -> None:
    options = OutputOptions()
    rendered = render(photo, _mask(), options)
    back = Image.open(io.BytesIO(encode(rendered, options)))
    np.testing.assert_array_equal(np.asarray(back), np.asarray(rendered))


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"fmt": "jpg"}, "give a background colour"),
        ({"fmt": "gif"}, "expected a format from png, webp, jpg"),
        ({"png_compression": 11}, "expected a PNG compression 0..9"),
    ],
)
def test_bad_output_options(kwargs: dict, says: str) -> None:
    with pytest.raises(ValueError, match=None) as info:
        OutputOptions(**kwargs)
    assert says in str(info.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("255,255,255", (255, 255, 255, 255)), ("0,0,0,128", (0, 0, 0, 128))],
)
def test_parse_color(text: str, expected: tuple) -> None:
    assert parse_color(text) == expected


@pytest.mark.parametrize("text", ["red", "1,2", "1,2,3,4,5", "0,0,256"])
def test_parse_color_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="expected R,G,B or R,G,B,A"):
        parse_color(text)


def _rembg_post_process(mask: np.ndarray) -> np.ndarray:
    """rembg's post_process (bg.py), with OpenCV, as rembg runs it."""
    import cv2

    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel)
    mask = cv2.GaussianBlur(mask, (5, 5), sigmaX=2, sigmaY=2, borderType=cv2.BORDER_DEFAULT)
    return np.where(mask < 127, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("photo_path", PHOTOS, ids=[p.name for p in PHOTOS])
def test_post_process_mask_equals_rembgs_opencv(photo_path: Path) -> None:
    """Grey photos are harsher than masks: every level and plenty of edges."""
    grey = np.asarray(Image.open(photo_path).convert("L"))
    got = post_process_mask(Image.fromarray(grey))
    assert got.mode == "L"
    np.testing.assert_array_equal(np.asarray(got), _rembg_post_process(grey))


def test_post_process_mask_on_noise_and_render(photo: Image.Image) -> None:
    noise = np.random.default_rng(0).integers(0, 256, (37, 53), dtype=np.uint8)
    np.testing.assert_array_equal(
        np.asarray(post_process_mask(Image.fromarray(noise))), _rembg_post_process(noise)
    )
    out = render(photo, _mask(), OutputOptions(only_mask=True, post_process=True))
    assert set(np.unique(np.asarray(out))) <= {0, 255}
