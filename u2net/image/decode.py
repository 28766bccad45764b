"""The one decode step: an opened image -> the upright 8-bit RGB picture a person would see.

Pillow's ``convert("RGB")`` clips deep images (16-bit ``I;16*``, 32-bit ``I``, float ``F``)
at 255, which turns most of a 16-bit photo white; here they are scaled by their bit depth
instead. Pillow opens 16-bit RGB(A) PNGs and TIFFs as RGB(A) holding each sample's high
byte; the file is read a second time for the low bytes, so that they too are ÷257 with
rounding (the high byte alone shifts u2netp's mask by up to 8 grey levels). HEIC/HEIF is
read through pillow-heif, registered on first use; libheif applies the file's rotation and
mirroring.

The photo's ICC profile stays in ``info["icc_profile"]`` when it describes RGB; a grey or
CMYK profile no longer fits the RGB picture and is dropped.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageFile, ImageOps

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
ORIENTATION = 0x0112
# A 16-bit colour tile's rawmode -> the one that unpacks the other byte of each sample
# (Pillow's unpackers keep one byte of two; ";16N" is the machine's own order).
NATIVE = ";16L" if sys.byteorder == "little" else ";16B"
OTHER_BYTE = {
    f"{mode};16{order}": f"{mode};16{'L' if order == 'B' else 'B'}"
    for mode in ("RGB", "RGBA")
    for order in ("B", "L")
}


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


def _low_byte_tiles(image: Image.Image) -> list[ImageFile._Tile] | None:
    """The image's tiles set to unpack the low byte of each 16-bit colour sample, or None
    when it is not 16-bit colour (or already decoded)."""
    swapped = []
    for tile in getattr(image, "tile", None) or []:
        args = tile.args if isinstance(tile.args, tuple) else (tile.args,)
        other = OTHER_BYTE.get(str(args[0]).replace(";16N", NATIVE))
        if other is None:
            return None
        swapped.append(tile._replace(args=(other, *args[1:]) if len(args) > 1 else other))
    return swapped or None


def rounded_16bit_colour(image: Image.Image, reopen: Callable[[], Image.Image]) -> Image.Image:
    """A not yet decoded 16-bit RGB(A) image as 8 bits with ÷257 rounding; others as they are.

    ``reopen`` opens the same file again: its tiles are pointed at the low bytes.
    """
    tiles = _low_byte_tiles(image)
    if tiles is None:
        return image
    twin = reopen()
    twin.tile = tiles
    high = np.asarray(image, dtype=np.uint32)  # decodes both
    values = high * 256 + np.asarray(twin, dtype=np.uint32)
    rounded = Image.fromarray(((values * 255 + 32767) // 65535).astype(np.uint8))
    rounded.info = {**image.info, "exif": image.getexif().tobytes()}  # a TIFF's orientation
    return rounded


def rgb_profile(profile: bytes | None) -> bytes | None:
    """The profile if it describes RGB (the colour space at bytes 16..20 of its header)."""
    if profile and profile[16:20] == b"RGB ":
        return profile
    if profile:
        log.debug("dropping a %r ICC profile: the picture is RGB now", profile[16:20])
    return None


def _turned(image: Image.Image, in_place: bool) -> Image.Image:
    """``image`` with its EXIF orientation applied: itself (``in_place``) or a copy."""
    if not in_place:
        return ImageOps.exif_transpose(image)
    ImageOps.exif_transpose(image, in_place=True)
    return image


def upright_rgb(image: Image.Image, reopen: Callable[[], Image.Image] | None = None) -> Image.Image:
    """First frame, EXIF orientation applied, deep modes scaled, then RGB (palette, CMYK,
    grey and alpha as ``convert("RGB")`` has them, as rembg does); its RGB profile kept.

    ``reopen`` (opens the same file again) lets a 16-bit colour file be rounded, not cut.
    """
    animated = getattr(image, "is_animated", False)
    if animated:
        image.seek(0)
    if reopen is not None:
        image = rounded_16bit_colour(image, reopen)
    # A file opened here is turned in place and, when RGB already, not copied: at 12 MP each
    # copy costs about 40 ms. A caller's image is never changed (the turn copies it), and an
    # animated file's other frames stay readable.
    upright = to_8bit(_turned(image, in_place=reopen is not None and not animated))
    rgb = upright if upright.mode == "RGB" else upright.convert("RGB")
    profile = rgb_profile(image.info.get(ICC))
    if profile is None:
        rgb.info.pop(ICC, None)
    else:
        rgb.info[ICC] = profile
    return rgb
