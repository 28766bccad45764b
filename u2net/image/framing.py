"""Where the subject is, and framing the result around it: the foreground's box, cropping to it
with a margin, scaling down to a pixel budget (pure PIL)."""

from __future__ import annotations

import math

from PIL import Image

Box = tuple[int, int, int, int]  # left, top, width, height
EMPTY_BOX: Box = (0, 0, 0, 0)
# alpha above this is foreground: rembg's default "sure background" threshold (-ab 10)
FOREGROUND_MIN_ALPHA = 10


def foreground_box(mask: Image.Image, threshold: int = FOREGROUND_MIN_ALPHA) -> Box:
    """The smallest box holding every mask pixel above ``threshold``; (0, 0, 0, 0) if none."""
    found = mask.point(lambda v: 255 if v > threshold else 0).getbbox()
    if found is None:
        return EMPTY_BOX
    left, top, right, bottom = found
    return (left, top, right - left, bottom - top)


def crop_to_box(image: Image.Image, box: Box, margin: int) -> tuple[Image.Image, Box]:
    """Crop to ``box`` grown by ``margin`` on each side (within the image); the box moves with
    it. No foreground: the image is kept whole."""
    left, top, width, height = box
    if width == 0 or height == 0:
        return image, box
    x0, y0 = max(0, left - margin), max(0, top - margin)
    x1 = min(image.width, left + width + margin)
    y1 = min(image.height, top + height + margin)
    return image.crop((x0, y0, x1, y1)), (left - x0, top - y0, width, height)


def limit_pixels(image: Image.Image, box: Box, max_pixels: int) -> tuple[Image.Image, Box]:
    """Scale down (LANCZOS, aspect kept) to at most ``max_pixels``; the box scales with it."""
    if image.width * image.height <= max_pixels:
        return image, box
    scale = math.sqrt(max_pixels / (image.width * image.height))
    size = (max(1, math.floor(image.width * scale)), max(1, math.floor(image.height * scale)))
    sx, sy = size[0] / image.width, size[1] / image.height
    left, top, width, height = box
    scaled = (round(left * sx), round(top * sy), round(width * sx), round(height * sy))
    return image.resize(size, Image.Resampling.LANCZOS), scaled
