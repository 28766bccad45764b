"""Alpha matting (-a) against rembg's alpha_matting_cutout, on a real photo and mask."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from PIL import Image

from tests.data import PHOTOS, cpu_session, staged_model
from u2net.contract import CONTRACT
from u2net.image.matting import MattingOptions, matte, trimap
from u2net.image.render import mask_to_size, render, to_model_input
from u2net.options import OutputOptions

# checked, not imported: importing pymatting loads its numba code, seconds that every
# pytest-xdist worker would spend collecting (the tests import it where they use it)
pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("pymatting") is None, reason="the [matting] extra is not installed"
)


def _rembg_alpha_matting_cutout(
    img: Image.Image, mask: Image.Image, fg: int, bg: int, erode: int
) -> Image.Image:
    """rembg 2.0.86 bg.py alpha_matting_cutout, written out as the reference."""
    from pymatting import estimate_alpha_cf, estimate_foreground_ml, stack_images
    from scipy.ndimage import binary_erosion

    img_array, mask_array = np.asarray(img), np.asarray(mask)
    is_fg, is_bg = mask_array > fg, mask_array < bg
    structure = np.ones((erode, erode), dtype=np.uint8) if erode > 0 else None
    is_fg = binary_erosion(is_fg, structure=structure)
    is_bg = binary_erosion(is_bg, structure=structure, border_value=1)
    tri = np.full(mask_array.shape, dtype=np.uint8, fill_value=128)
    tri[is_fg], tri[is_bg] = 255, 0
    alpha = estimate_alpha_cf(img_array / 255.0, tri / 255.0)
    foreground = estimate_foreground_ml(img_array / 255.0, alpha)
    return Image.fromarray(np.clip(stack_images(foreground, alpha) * 255, 0, 255).astype(np.uint8))


@pytest.fixture(scope="module")
def photo_and_mask() -> tuple[Image.Image, Image.Image]:
    """A small real photo and its real u2netp mask (the staged serving graph, no server)."""
    rgb = Image.open(PHOTOS[1]).convert("RGB").resize((150, 100))
    session = cpu_session(staged_model("u2netp_onnx"))
    mask_320 = session.run(None, {CONTRACT.input_name: to_model_input(rgb)[None]})[0][0]
    return rgb, mask_to_size(mask_320, rgb.size)


def test_trimap_erodes_both_sure_regions() -> None:
    mask = np.zeros((20, 20), dtype=np.uint8)
    mask[5:15, 5:15] = 255
    tri = trimap(mask, MattingOptions(erode_size=3))
    assert set(np.unique(tri)) == {0, 128, 255}
    assert (tri[7:13, 7:13] == 255).all() and tri[5, 5] == 128 and tri[0, 0] == 0
    assert tri[4, 10] == 128  # background next to the subject is unknown after erosion


@pytest.mark.parametrize(
    "options", [MattingOptions(), MattingOptions(230, 20, 5)], ids=["rembg-defaults", "custom"]
)
def test_matte_equals_rembg(photo_and_mask: tuple, options: MattingOptions) -> None:
    rgb, mask = photo_and_mask
    got = matte(rgb, mask, options)
    expected = _rembg_alpha_matting_cutout(
        rgb, mask, options.foreground_threshold, options.background_threshold, options.erode_size
    )
    assert got.mode == "RGBA" and got.size == rgb.size
    np.testing.assert_array_equal(np.asarray(got), np.asarray(expected))
    alpha = np.asarray(got)[..., 3]
    assert 0 < (alpha == 255).mean() < 1 and (alpha == 0).any()


def test_render_with_matting_and_bgcolor(photo_and_mask: tuple) -> None:
    rgb, mask = photo_and_mask
    mask_320 = np.asarray(mask.resize((320, 320), Image.Resampling.LANCZOS))
    out = render(rgb, mask_320, OutputOptions(matting=MattingOptions(), bgcolor=(0, 0, 255, 255)))
    assert out.mode == "RGB" and out.size == rgb.size


def test_matting_of_an_all_foreground_mask_stays_opaque(photo_and_mask: tuple) -> None:
    rgb, _ = photo_and_mask
    flat = np.full((320, 320), 255, dtype=np.uint8)
    out = render(rgb, flat, OutputOptions(matting=MattingOptions()))
    assert out.mode == "RGBA" and (np.asarray(out)[..., 3] == 255).all()
