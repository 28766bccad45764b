"""The composition steps around a cut-out (remove.bg's ``roi``, ``semitransparency``,
``scale``, ``position``, ``add_shadow`` and ``bg_image_*``), pure PIL on a mask at the photo's
size and on the composed subject.

On the mask, before composing: :func:`within_roi` (nothing outside the region of interest
can be foreground), :func:`harden` (semitransparency off: every pixel opaque or clear).
On the composed subject and its mask: :func:`target_box` and :func:`place` (scale the
subject's box within the canvas and position it), :func:`with_shadow` (a soft drop shadow
from the subject's alpha, beneath it), :func:`cover` and :func:`over_photo` (the result
over a background photo covering the canvas, as remove.bg does).

At 100 MP a plane is 100 MB (L) to 400 MB (RGBA): the steps work in place or a strip at a
time where they can, and never hold a full-size layer only to compose it (docs/api.md,
memory).
"""

from __future__ import annotations

from PIL import Image, ImageFilter, ImageOps

from u2net.errors import InvalidRequest
from u2net.image.framing import Box, foreground_box
from u2net.values import Length

Roi = tuple[Length, Length, Length, Length]  # x1 y1 x2 y2
Position = tuple[float, float]  # where the subject's box sits: 0 left/top .. 1 right/bottom
CENTER: Position = (0.5, 0.5)
HARD_MATTE_THRESHOLD = 128  # semitransparency off: alpha from here up is opaque, below clear
_HARD_LUT = [255 if value >= HARD_MATTE_THRESHOLD else 0 for value in range(256)]
SHADOW_OFFSET = 0.02  # the shadow's shift right and down, of the subject's larger side
SHADOW_BLUR = 0.02  # the shadow's Gaussian radius, of the subject's larger side
DEFAULT_SHADOW_OPACITY = 50  # percent (remove.bg's shadow_opacity is 0..100)
SHADOW_COLOR = (0, 0, 0)
STRIP = 256  # rows composed at a time where a full-size layer would be another plane


def roi_box(roi: Roi, size: tuple[int, int]) -> tuple[int, int, int, int]:
    """The region of interest in pixels (left, top, right, bottom), clamped to the image;
    InvalidRequest when nothing of it is left there (reversed, empty or outside)."""
    width, height = size
    x1, y1, x2, y2 = (
        min(max(length.pixels(side), 0), side)
        for length, side in zip(roi, (width, height, width, height), strict=True)
    )
    if x1 >= x2 or y1 >= y2:
        given = " ".join(map(str, roi))
        raise InvalidRequest(
            f"roi: expected a region with x1 < x2 and y1 < y2 inside the {width}x{height}"
            f" image, got {given!r} ({x1}px {y1}px {x2}px {y2}px there)"
        )
    return x1, y1, x2, y2


def within_roi(mask: Image.Image, roi: Roi) -> Image.Image:
    """The mask with every pixel outside the region of interest cleared."""
    box = roi_box(roi, mask.size)
    kept = Image.new("L", mask.size, 0)
    kept.paste(mask.crop(box), box[:2])
    return kept


def harden(mask: Image.Image) -> Image.Image:
    """No semi-transparency: alpha ≥ ``HARD_MATTE_THRESHOLD`` opaque, the rest clear."""
    return mask.point(_HARD_LUT)


def target_box(
    box: Box, canvas: tuple[int, int], scale: float | None, position: Position | None
) -> Box:
    """Where the subject's box goes: ``scale`` (a fraction; None: its own size) of the
    largest size that fits the canvas, its aspect kept; at ``position`` (None: its centre
    stays where it was)."""
    left, top, width, height = box
    if width == 0 or height == 0:
        return box
    canvas_w, canvas_h = canvas
    factor = 1.0 if scale is None else scale * min(canvas_w / width, canvas_h / height)
    new_w, new_h = max(1, round(width * factor)), max(1, round(height * factor))
    if position is None:
        return (round(left + (width - new_w) / 2), round(top + (height - new_h) / 2), new_w, new_h)
    x, y = position
    return (round((canvas_w - new_w) * x), round((canvas_h - new_h) * y), new_w, new_h)


def place(image: Image.Image, box: Box, target: Box) -> Image.Image:
    """The ``box`` of ``image`` (a mask or an RGBA cut-out) moved and resized (LANCZOS) to
    ``target`` on an empty canvas of the same size; what falls outside the canvas is cut.
    A resized part is read from ``image`` directly (no full-size crop of it first)."""
    left, top, width, height = box
    if width == 0 or height == 0 or box == target:
        return image
    region = (left, top, left + width, top + height)
    new_left, new_top, new_w, new_h = target
    if (new_w, new_h) == (width, height):
        part = image.crop(region)
    else:
        part = image.resize((new_w, new_h), Image.Resampling.LANCZOS, box=region)
    canvas = Image.new(image.mode, image.size, 0)
    canvas.paste(part, (new_left, new_top))
    return canvas


def shadow_alpha(alpha: Image.Image, opacity: int) -> Image.Image:
    """A drop shadow's coverage (mode L) under a subject with this alpha: the alpha shifted
    down and right, blurred and scaled by ``opacity`` (percent)."""
    _, _, width, height = foreground_box(alpha)
    reach = max(width, height)
    offset = round(reach * SHADOW_OFFSET)
    shifted = Image.new("L", alpha.size, 0)
    shifted.paste(alpha, (offset, offset))
    blurred = shifted.filter(ImageFilter.GaussianBlur(max(1.0, reach * SHADOW_BLUR)))
    del shifted
    return blurred.point([round(v * opacity / 100) for v in range(256)])


def with_shadow(subject: Image.Image, opacity: int = DEFAULT_SHADOW_OPACITY) -> Image.Image:
    """The RGBA cut-out over its own drop shadow (``SHADOW_COLOR``): the shadow shows only
    where the subject is not opaque. ``subject`` is composed in place, ``STRIP`` rows at a
    time, so that no full-size shadow layer is ever held."""
    shadow = shadow_alpha(subject.getchannel("A"), opacity)
    width, height = subject.size
    for top in range(0, height, STRIP):
        box = (0, top, width, min(top + STRIP, height))
        layer = Image.new("RGBA", (width, box[3] - top), (*SHADOW_COLOR, 0))
        layer.putalpha(shadow.crop(box))
        subject.paste(Image.alpha_composite(layer, subject.crop(box)), box[:2])
    return subject


def over_photo(
    subject: Image.Image, backdrop: Image.Image, shadow: Image.Image | None = None
) -> Image.Image:
    """The RGBA cut-out (and its shadow's coverage, if any) laid over an opaque RGB backdrop
    of the same size, in place: the backdrop is the result. Pasting through an alpha is
    alpha compositing over an opaque picture, without its RGBA copies."""
    if shadow is not None:
        backdrop.paste(SHADOW_COLOR, (0, 0, *backdrop.size), shadow)
    backdrop.paste(subject, (0, 0), subject)
    return backdrop


def cover(background: Image.Image, size: tuple[int, int]) -> Image.Image:
    """The background resized to cover ``size``, aspect kept, centred and cropped (as is when
    it already has that size)."""
    if background.size == size:
        return background
    return ImageOps.fit(background, size, Image.Resampling.LANCZOS, centering=(0.5, 0.5))
