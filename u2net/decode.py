"""The one decode step: an opened image -> the upright 8-bit RGB picture a person would see.

Pillow's ``convert("RGB")`` clips deep images (16-bit ``I;16*``, 32-bit ``I``, float ``F``)
at 255, which turns most of a 16-bit photo white; here they are scaled by their bit depth
instead. 16-bit RGB(A) PNGs and TIFFs already arrive as RGB(A): Pillow keeps each sample's
high byte, at most one grey level from the ÷257 used here. HEIC/HEIF is read through
pillow-heif, registered on first use; libheif applies the file's rotation and mirroring.

The photo's ICC profile stays in ``info["icc_profile"]`` when it describes RGB; a grey or
CMYK profile no longer fits the RGB picture and is dropped.
"""

from __future__ import annotations

import functools
import logging

import numpy as np
from PIL import Image, ImageOps

log = logging.getLogger(__name__)

# The largest value of each deep integer mode; np.asarray gives each in native byte order.
FULL_SCALE = {
    "I;16": 2**16 - 1,
    "I;16B": 2**16 - 1,
    "I;16L": 2**16 - 1,
    "I;16N": 2**16 - 1,
    "I": 2**32 - 1,  # read as unsigned: Pillow stores numpy's uint32 as mode I
}
ICC = "icc_profile"


@functools.cache
def register_heif() -> None:
    """Let Pillow open HEIC/HEIF (pillow-heif; imported on the first decode, not at import)."""
    from pillow_heif import register_heif_opener

    register_heif_opener()


def to_8bit(image: Image.Image) -> Image.Image:
    """A deep single-channel image scaled (not clipped) to mode L; other modes as they are.

    Integers: ``round(v * 255 / full_scale)``; floats are taken as 0..1 and clipped.
    """
    if image.mode == "F":
        values = np.nan_to_num(np.asarray(image, dtype=np.float64), nan=0.0)
        grey = np.rint(np.clip(values, 0.0, 1.0) * 255)
    elif image.mode in FULL_SCALE:
        full = FULL_SCALE[image.mode]
        raw = np.asarray(image)
        values = (raw.view(np.uint32) if image.mode == "I" else raw).astype(np.uint64)
        grey = (values * 255 + full // 2) // full
    else:
        return image
    scaled = Image.fromarray(grey.astype(np.uint8))
    scaled.info = dict(image.info)
    return scaled


def rgb_profile(profile: bytes | None) -> bytes | None:
    """The profile if it describes RGB (the colour space at bytes 16..20 of its header)."""
    if profile and profile[16:20] == b"RGB ":
        return profile
    if profile:
        log.debug("dropping a %r ICC profile: the picture is RGB now", profile[16:20])
    return None


def upright_rgb(image: Image.Image) -> Image.Image:
    """First frame, EXIF orientation applied, deep modes scaled, then RGB (palette, CMYK,
    grey and alpha as ``convert("RGB")`` has them, as rembg does); its RGB profile kept."""
    if getattr(image, "is_animated", False):
        image.seek(0)
    rgb = to_8bit(ImageOps.exif_transpose(image)).convert("RGB")
    profile = rgb_profile(image.info.get(ICC))
    if profile is None:
        rgb.info.pop(ICC, None)
    else:
        rgb.info[ICC] = profile
    return rgb
