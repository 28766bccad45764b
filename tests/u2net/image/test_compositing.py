"""The compositing step: RGB 0 under alpha 0 (clean, rembg), rembg's image pixel for pixel,
clean's soft-edge colours closer to pymatting's foreground estimate than the photo's own."""

from __future__ import annotations

import importlib.util
import io

import numpy as np
import onnxruntime as ort
import pytest
from PIL import Image, ImageFilter

from tests.data import PHOTOS, cpu_session, staged_model
from tests.rembg_reference import rembg_cutout, rembg_over_color
from u2net.contract import CONTRACT
from u2net.image.compositing import MODES, cutout
from u2net.image.io import open_rgb
from u2net.image.render import mask_to_size, render, to_model_input
from u2net.options import OutputOptions

# checked, not imported: importing pymatting loads its numba code, seconds that every
# pytest-xdist worker would spend collecting (the tests import it where they use it)
pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("pymatting") is None, reason="pymatting is not installed"
)


def _mask_320(session: ort.InferenceSession, rgb: Image.Image) -> np.ndarray:
    return session.run(None, {CONTRACT.input_name: to_model_input(rgb)[None]})[0][0]


@pytest.fixture(scope="module")
def cases() -> list[tuple[Image.Image, Image.Image]]:
    """Each real photo with a served model's mask at its size (u2netp's: compositing takes
    any mask, and u2net's soft edges are no different in kind)."""
    session = cpu_session(staged_model("u2netp_onnx"))
    photos = [open_rgb(path) for path in PHOTOS]
    return [(rgb, mask_to_size(_mask_320(session, rgb), rgb.size)) for rgb in photos]


def _decoded(image: Image.Image, options: OutputOptions) -> np.ndarray:
    from u2net.image.io import encode

    return np.asarray(Image.open(io.BytesIO(encode(image, options))).convert("RGBA"))


@pytest.mark.parametrize("fmt", ["png", "webp"])
@pytest.mark.parametrize("mode", ["clean", "rembg"])
def test_no_colour_under_transparent_pixels(cases: list, mode: str, fmt: str) -> None:
    options = OutputOptions(composite=mode, fmt=fmt)
    for rgb, mask in cases[:2]:
        pixels = _decoded(cutout(rgb, mask, mode), options)
        transparent = pixels[..., 3] == 0
        assert transparent.any()
        assert pixels[transparent, :3].max() == 0


@pytest.mark.parametrize("mode", ["clean", "rembg"])
def test_jpeg_shows_only_the_colour_where_alpha_was_0(cases: list, mode: str) -> None:
    """JPEG has no alpha: where the mask is 0 it shows the background colour, nothing of
    the photo (within JPEG's loss far from the subject's edge)."""
    color = (0, 128, 255, 255)
    options = OutputOptions(composite=mode, fmt="jpg", bgcolor=color)
    for rgb, mask in cases[:2]:
        mask_320 = np.asarray(mask.resize(CONTRACT.output_dims[::-1]))
        pixels = _decoded(render(rgb, mask_320, options), options)[..., :3].astype(int)
        clear = np.asarray(mask_to_size(mask_320, rgb.size).filter(ImageFilter.MaxFilter(9))) == 0
        assert clear.any()
        assert np.abs(pixels[clear] - color[:3]).mean() < 2


def test_straight_keeps_the_photo_under_transparent_pixels(cases: list) -> None:
    rgb, mask = cases[0]
    pixels = np.asarray(cutout(rgb, mask, "straight"))
    np.testing.assert_array_equal(pixels[..., :3], np.asarray(rgb))
    assert pixels[pixels[..., 3] == 0, :3].mean() > 10  # the removed background is still there


@pytest.mark.parametrize("bgcolor", [None, (0, 128, 255, 255), (10, 20, 30, 100)])
def test_rembg_mode_is_rembgs_image_pixel_for_pixel(cases: list, bgcolor: tuple | None) -> None:
    for rgb, mask in cases:
        options = OutputOptions(composite="rembg", bgcolor=bgcolor)
        mask_320 = np.asarray(mask.resize(CONTRACT.output_dims[::-1]))
        got = render(rgb, mask_320, options)
        ours = mask_to_size(mask_320, rgb.size)
        expected = rembg_cutout(rgb, ours)
        if bgcolor is not None:
            expected = rembg_over_color(expected, bgcolor)
        assert got.mode == expected.mode
        np.testing.assert_array_equal(np.asarray(got), np.asarray(expected))


def test_clean_soft_edges_are_closer_to_pymatting_than_straight(cases: list) -> None:
    """Mean colour error on soft pixels (0 < alpha < 255) against pymatting's
    estimate_foreground_ml, over all photos: clean's at most half of straight's."""
    from pymatting import estimate_foreground_ml

    errors = {mode: [] for mode in ("clean", "straight")}
    for rgb, mask in cases:
        alpha = np.asarray(mask, dtype=np.float64) / 255
        reference = estimate_foreground_ml(np.asarray(rgb, dtype=np.float64) / 255, alpha) * 255
        soft = (alpha > 0) & (alpha < 1)
        for mode, found in errors.items():
            colour = np.asarray(cutout(rgb, mask, mode), dtype=np.float64)[..., :3]
            found.append(np.abs(colour - reference)[soft])
    clean, straight = (np.concatenate(errors[m]).mean() for m in ("clean", "straight"))
    assert clean <= straight / 2, (clean, straight)


def test_clean_over_a_colour_has_no_dark_fringe(cases: list) -> None:
    """Over white, clean's soft pixels are the estimate over white: never darker than both
    the colour and the subject's own colour, which rembg's multiplied colour is."""
    rgb, mask = cases[0]
    white = (255, 255, 255, 255)
    clean = np.asarray(render_over(rgb, mask, "clean", white), dtype=np.int32)
    rembg = np.asarray(render_over(rgb, mask, "rembg", white), dtype=np.int32)
    alpha = np.asarray(mask)
    soft = (alpha > 64) & (alpha < 192)
    assert clean[soft].mean() > rembg[soft, :3].mean() + 10


def render_over(rgb: Image.Image, mask: Image.Image, mode: str, color: tuple) -> Image.Image:
    from u2net.image.compositing import over_color

    return over_color(cutout(rgb, mask, mode), color, mode)


@pytest.mark.parametrize("mode", MODES)
def test_only_mask_is_the_same_in_every_mode(cases: list, mode: str) -> None:
    rgb, mask = cases[0]
    mask_320 = np.asarray(mask.resize(CONTRACT.output_dims[::-1]))
    out = render(rgb, mask_320, OutputOptions(only_mask=True, composite=mode))
    np.testing.assert_array_equal(np.asarray(out), np.asarray(mask_to_size(mask_320, rgb.size)))


def test_clean_large_photo_uses_the_working_grid_and_keeps_rules() -> None:
    """Above the working grid's size, clean still clears RGB under alpha 0 and keeps RGB
    where alpha is 255."""
    rgb = open_rgb(PHOTOS[0]).resize((2400, 1800))
    yy, xx = np.mgrid[:320, :320]
    mask = mask_to_size(
        (255 * (((xx - 160) ** 2 + (yy - 160) ** 2) < 110**2)).astype(np.uint8), rgb.size
    )
    pixels, alpha = np.asarray(cutout(rgb, mask, "clean")), np.asarray(mask)
    assert pixels[alpha == 0, :3].max() == 0
    np.testing.assert_array_equal(pixels[alpha == 255, :3], np.asarray(rgb)[alpha == 255])


def _bilinear_matrix(full: int, grid: int) -> np.ndarray:
    """Bilinear interpolation from ``grid`` cells to ``full`` pixels (centres aligned, held
    at the outer cells' centres) as a dense matrix [full, grid]."""
    position = np.clip((np.arange(full) + 0.5) * grid / full - 0.5, 0, grid - 1)
    cells = np.arange(grid)
    return np.maximum(0, 1 - np.abs(position[:, None] - cells[None, :])).astype(np.float32)


def test_tiles_are_sampled_bilinearly_from_the_working_grid() -> None:
    """A tile's blurred colours are the grid's bilinear interpolation: the same as dense
    interpolation matrices on both axes (rows @ grid @ columnsᵀ), anywhere in the photo."""
    from u2net.image.compositing import _axis, _upsampled

    grid = np.random.default_rng(0).uniform(0, 255, (2, 7, 9, 3)).astype(np.float32)
    height, width = 50, 61
    dense = np.einsum(
        "hy,myxc,wx->mhwc", _bilinear_matrix(height, 7), grid, _bilinear_matrix(width, 9)
    )
    rows, columns = _axis(height, 7), _axis(width, 9)
    for top, bottom, left, right in [(0, 50, 0, 61), (10, 20, 0, 5), (45, 50, 30, 61)]:
        shape = (2, bottom - top, right - left, 3)
        tile = _upsampled(
            grid,
            [axis[top:bottom] for axis in rows],
            [axis[left:right] for axis in columns],
            np.full(shape, np.nan, dtype=np.float32),
            np.full(shape, np.nan, dtype=np.float32),
        )
        np.testing.assert_allclose(tile, dense[:, top:bottom, left:right], atol=1e-3)


def test_clean_with_a_hard_mask_is_the_photo_or_nothing(cases: list) -> None:
    """No soft pixel (a post-processed mask): the photo's colour where alpha is 255, 0 where
    it is 0, alpha untouched."""
    rgb, mask = cases[0]
    hard = mask.point(lambda value: 255 if value >= 128 else 0)
    pixels, alpha = np.asarray(cutout(rgb, hard, "clean")), np.asarray(hard)
    np.testing.assert_array_equal(pixels[..., 3], alpha)
    np.testing.assert_array_equal(pixels[alpha == 255, :3], np.asarray(rgb)[alpha == 255])
    assert pixels[alpha == 0, :3].max() == 0


@pytest.mark.parametrize("size", [(16400, 48), (48, 16400), (2000, 1)], ids=str)
def test_clean_on_a_working_grid_one_cell_thick(size: tuple[int, int]) -> None:
    """A photo so long and thin that its working grid is one row or column: a plain colour
    is estimated as itself in soft pixels, and RGB is 0 under alpha 0."""
    rgb = Image.new("RGB", size, (200, 10, 90))
    alpha = np.full(size[::-1], 128, dtype=np.uint8)
    alpha[0, 0] = 0
    pixels = np.asarray(cutout(rgb, Image.fromarray(alpha), "clean"))
    np.testing.assert_array_equal(pixels[0, 0], [0, 0, 0, 0])
    assert (pixels[alpha == 128] == [200, 10, 90, 128]).all()
