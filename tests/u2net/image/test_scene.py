"""The composition steps (u2net/image/scene.py) through ``finish``, on real photos with a soft
round mask: background, scale and position, region of interest, shadow, hard matte; and
their values as every caller writes them."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from tests.data import PHOTOS
from u2net.contract import CONTRACT
from u2net.errors import InvalidRequest, OptionError
from u2net.image import scene
from u2net.image.io import open_rgb
from u2net.image.render import finish
from u2net.image.scene import roi_box
from u2net.job import prepare
from u2net.options import CutRequest, OutputOptions, from_parameters, to_parameters

SIDE = CONTRACT.size
BOX_320 = (100, 60, 220, 260)  # the subject's ellipse in the model's 320×320 mask


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    return open_rgb(PHOTOS[3])  # rocket.jpg, 640×427


@pytest.fixture(scope="module")
def mask_320() -> np.ndarray:
    """A subject with soft edges: an ellipse, blurred (values between 0 and 255 at its rim)."""
    mask = Image.new("L", (SIDE, SIDE), 0)
    ImageDraw.Draw(mask).ellipse(BOX_320, fill=255)
    return np.asarray(mask.filter(ImageFilter.GaussianBlur(4)))


def png(path) -> bytes:
    buffer = io.BytesIO()
    open_rgb(path).save(buffer, format="PNG")
    return buffer.getvalue()


def alpha_of(image: Image.Image) -> np.ndarray:
    return np.asarray(image.getchannel("A"))


def plain(photo, mask_320) -> Image.Image:
    return finish(photo, mask_320, OutputOptions()).image


def test_the_background_photo_lies_under_the_subject(photo, mask_320) -> None:
    background = open_rgb(PHOTOS[2]).resize(photo.size)  # coffee.png, at the photo's size
    out = finish(photo, mask_320, OutputOptions(bg_image=png_of(background))).image
    alpha = alpha_of(plain(photo, mask_320))
    pixels = np.asarray(out)
    assert out.mode == "RGB" and out.size == photo.size
    np.testing.assert_array_equal(pixels[alpha == 0], np.asarray(background)[alpha == 0])
    np.testing.assert_array_equal(pixels[alpha == 255], np.asarray(photo)[alpha == 255])


def png_of(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_wider_background_is_covered_centred_and_its_sides_cut(photo, mask_320) -> None:
    """A background of another aspect is scaled to cover the canvas and centred: the red bands
    added on its left and right are cut off, the photo between them fills the canvas."""
    width, height = photo.size
    middle = open_rgb(PHOTOS[2]).resize(photo.size)
    wide = Image.new("RGB", (width + 400, height), (255, 0, 0))
    wide.paste(middle, (200, 0))
    out = np.asarray(finish(photo, mask_320, OutputOptions(bg_image=png_of(wide))).image)
    clear = alpha_of(plain(photo, mask_320)) == 0
    np.testing.assert_array_equal(out[clear], np.asarray(middle)[clear])


def box_of(image: Image.Image) -> tuple[int, int, int, int]:
    left, top, right, bottom = image.getchannel("A").point(lambda v: 255 * (v > 10)).getbbox()
    return left, top, right - left, bottom - top


@pytest.mark.parametrize(
    ("scale", "position", "where"),
    [
        pytest.param(0.5, (0.5, 0.5), "centre", id="half-centred"),
        pytest.param(1.0, (0.0, 1.0), "bottom-left", id="full-bottom-left"),
        pytest.param(None, (1.0, 0.0), "top-right", id="as-is-top-right"),
    ],
)
def test_the_subjects_box_after_scale_and_position(photo, mask_320, scale, position, where):
    before = finish(photo, mask_320, OutputOptions())
    after = finish(photo, mask_320, OutputOptions(scale=scale, position=position))
    (_, _, w0, h0), (left, top, w, h) = before.box, after.box
    assert after.box == box_of(after.image)
    canvas_w, canvas_h = photo.size
    if scale is None:
        assert (w, h) == (w0, h0)
    else:  # the larger fit: scale × the canvas along one side, aspect kept
        assert max(w / canvas_w, h / canvas_h) == pytest.approx(scale, abs=0.01)
        assert w / h == pytest.approx(w0 / h0, rel=0.02)
    right, bottom = canvas_w - left - w, canvas_h - top - h
    if where == "centre":
        assert abs(left - right) <= 2 and abs(top - bottom) <= 2
    if where == "bottom-left":
        assert left <= 1 and bottom <= 1
    if where == "top-right":
        assert right <= 1 and top <= 1


def test_position_original_keeps_the_subjects_centre(photo, mask_320) -> None:
    before = finish(photo, mask_320, OutputOptions()).box
    after = finish(photo, mask_320, OutputOptions(scale=0.3)).box
    centre = [(before[i] + before[i + 2] / 2) for i in (0, 1)]
    assert [(after[i] + after[i + 2] / 2) for i in (0, 1)] == pytest.approx(centre, abs=1)


def test_nothing_is_kept_outside_the_region_of_interest(photo, mask_320) -> None:
    roi = from_parameters({"roi": "0% 0% 50% 100%"}).options.roi
    out = alpha_of(finish(photo, mask_320, OutputOptions(roi=roi)).image)
    whole = alpha_of(plain(photo, mask_320))
    half = photo.width // 2
    assert whole[:, half:].any() and not out[:, half:].any()
    np.testing.assert_array_equal(out[:, :half], whole[:, :half])


def test_the_shadow_falls_only_outside_the_subject(photo, mask_320) -> None:
    cutout = np.asarray(plain(photo, mask_320))
    out = np.asarray(finish(photo, mask_320, OutputOptions(shadow=True)).image)
    subject, clear = cutout[..., 3] == 255, cutout[..., 3] == 0
    np.testing.assert_array_equal(out[subject], cutout[subject])
    shadow = clear & (out[..., 3] > 0)
    assert shadow.sum() > 500  # a visible band around the subject
    assert (out[shadow][:, :3] == 0).all()  # black, at most half opaque (the default 50 %)
    assert out[shadow][:, 3].max() <= 128
    assert not out[:20, :20, 3].any()  # and nowhere far from it


def reference_composite(
    subject: Image.Image, shadow: Image.Image, backdrop: Image.Image | None
) -> np.ndarray:
    """Porter-Duff "over" written out in floats: subject over shadow over the backdrop."""
    colour, alpha = (np.asarray(subject, dtype=np.float64)[..., i] for i in (slice(0, 3), 3))
    a, s = alpha[..., None] / 255, np.asarray(shadow, dtype=np.float64)[..., None] / 255
    if backdrop is None:
        out_a = a + s * (1 - a)
        rgb = colour * a / np.maximum(out_a, 1e-9)  # the shadow is black
        return np.dstack([rgb, out_a[..., 0] * 255])
    return colour * a + np.asarray(backdrop, dtype=np.float64) * (1 - s) * (1 - a)


@pytest.mark.parametrize("over_a_photo", [False, True])
def test_the_shadow_composed_a_strip_at_a_time_is_porter_duff_over(
    photo, mask_320, over_a_photo
) -> None:
    """Taller than a strip, so a seam crosses the shadow; within 2 grey levels of the exact
    composite (8-bit rounding at each step)."""
    subject = finish(photo, mask_320, OutputOptions()).image
    assert subject.height > scene.STRIP
    shadow = scene.shadow_alpha(subject.getchannel("A"), 80)
    backdrop = Image.new("RGB", subject.size, (40, 160, 220)) if over_a_photo else None
    expected = reference_composite(subject, shadow, backdrop)
    if over_a_photo:
        out = scene.over_photo(subject.copy(), backdrop.copy(), shadow)
    else:
        out = scene.with_shadow(subject.copy(), 80)
    assert np.asarray(shadow)[scene.STRIP - 1 : scene.STRIP + 1].any()  # a seam crosses it
    assert np.abs(np.asarray(out, dtype=np.float64) - expected).max() <= 2


def test_semitransparency_off_hardens_the_matte(photo, mask_320) -> None:
    soft = set(np.unique(alpha_of(plain(photo, mask_320))))
    hard = set(
        np.unique(alpha_of(finish(photo, mask_320, OutputOptions(semitransparency=False)).image))
    )
    assert len(soft) > 100 and hard == {0, 255}


@pytest.mark.parametrize(
    "parameters",
    [
        {"scale": "50%"},
        {"scale": "50%", "position": "original"},
        {"position": "20% 80%"},
        {"roi": "10px 5% 600px 100%"},
        {"semitransparency": "false", "shadow": "true", "shadow_opacity": "80"},
    ],
    ids=str,
)
def test_the_fields_survive_cutouts_parameters(parameters) -> None:
    options = from_parameters(parameters).options
    assert options != OutputOptions()
    assert from_parameters(to_parameters(options)).options == options


def test_a_scale_alone_centres_the_subject() -> None:
    assert from_parameters({"scale": "40%"}).options.position == (0.5, 0.5)
    assert from_parameters({"scale": "original"}).options == OutputOptions()


@pytest.mark.parametrize(
    ("parameters", "says"),
    [
        ({"scale": "5%"}, "parameter scale: expected original or 10%..100%, got '5%'"),
        ({"scale": "half"}, "parameter scale: expected original or 10%..100%, got 'half'"),
        ({"position": "left"}, "parameter position: expected original, center, X% or X% Y%"),
        ({"position": "10% 20% 30%"}, "parameter position: expected original, center"),
        ({"position": "120%"}, "parameter position: expected original, center"),
        ({"roi": "0 0 100"}, "parameter roi: expected 4 lengths like 10px or 25%"),
        ({"roi": "0 0 150% 100%"}, "parameter roi: expected 4 lengths"),
        ({"shadow_opacity": "101"}, "parameter shadow_opacity: expected 0..100, got 101"),
        ({"semitransparency": "maybe"}, "parameter semitransparency: expected true or false"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_bad_values_name_the_parameter(parameters, says) -> None:
    with pytest.raises(OptionError, match=None) as raised:
        from_parameters(parameters)
    assert str(raised.value).startswith(says)


def test_a_background_colour_and_photo_together_are_refused(photo) -> None:
    with pytest.raises(OptionError, match="a background colour or a background image, got both"):
        OutputOptions(bgcolor=(0, 0, 0, 255), bg_image=png(PHOTOS[2]))


@pytest.mark.parametrize(
    ("roi", "says"),
    [
        ("400 400 100 100", "roi: expected x1 < x2 and y1 < y2 (a region), got '400 400 100 100'"),
        ("10 10 10 10", "roi: expected x1 < x2 and y1 < y2 (a region), got '10 10 10 10'"),
        ("0 60% 100% 40%", "roi: expected x1 < x2 and y1 < y2 (a region), got '0 60% 100% 40%'"),
    ],
)
def test_a_reversed_or_empty_roi_is_refused_with_its_values(roi, says) -> None:
    with pytest.raises(OptionError) as raised:
        from_parameters({"roi": roi})
    assert str(raised.value) == f"parameter {says}"


def test_pixels_against_percent_are_judged_at_the_photos_size(photo, mask_320) -> None:
    """``300px .. 40%`` is a region of a 1000 px wide photo, and nothing of a 640 px one
    (40% of it is 256 px): refused before the network runs, and by ``finish`` too."""
    roi = from_parameters({"roi": "300px 0 40% 100%"}).options.roi
    assert roi_box(roi, (1000, 427)) == (300, 0, 400, 427)
    for refuse in (
        lambda: prepare(png(PHOTOS[3]), CutRequest(options=OutputOptions(roi=roi)), 10**8),
        lambda: finish(photo, mask_320, OutputOptions(roi=roi)),
    ):
        with pytest.raises(InvalidRequest) as raised:
            refuse()
        assert str(raised.value) == (
            "roi: expected a region with x1 < x2 and y1 < y2 inside the 640x427 image,"
            " got '300px 0px 40% 100%' (300px 0px 256px 427px there)"
        )


def test_a_roi_beyond_the_photo_is_clamped_to_it() -> None:
    roi = from_parameters({"roi": "0 0 99999px 100%"}).options.roi
    assert roi_box(roi, (640, 427)) == (0, 0, 640, 427)
