"""The encoders and their settings, in one place: a finished picture -> PNG, WebP or JPEG.

PNG: imagecodecs' libpng with zlib-ng, filter and zlib strategy fixed per level
(``SETTINGS``, measured in docs/measurements.md, "Per-stage costs"): Pillow's writer picks
a filter per row by trying all five, which costs half of its time at level 1. Levels 1..5
write zlib's RLE strategy with the Paeth filter: at 12 MP as small as zlib's level 5 and
over twice as fast as Pillow's level 1, whose files are 20 % larger. The photo's ICC profile
(``icc_profile`` in the picture's ``info``) goes into an ``iCCP`` chunk, as Pillow writes it.

WebP: lossless with ``exact`` (``WEBP``): lossy WebP (4:2:0 colour in 4x4 blocks) gives
transparent pixels at the subject's edge the subject's colours, and lossless WebP without
``exact`` rewrites them too; only lossless ``exact`` keeps RGB 0 under alpha 0.
JPEG: Pillow's, quality ``JPEG_QUALITY``.
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass

import numpy as np
from PIL import Image

from u2net.image.decode import ICC

# imagecodecs.PNG.FILTER and zlib's strategies, by value (the import is lazy)
FILTER_NONE, FILTER_PAETH = 8, 128
STRATEGY_DEFAULT, STRATEGY_RLE = 0, 3
ICC_NAME = b"ICC Profile"  # the profile's name in the iCCP chunk (Pillow's)
SIGNATURE_AND_IHDR = 8 + 4 + 4 + 13 + 4  # PNG signature, then IHDR: length, type, data, CRC
MODES = ("L", "RGB", "RGBA")  # what the writer takes as is; other modes become RGBA
INSTALL_HINT = "pip install 'imagecodecs>=2025.3.30'"
# effort: method 1, quality 0 (measured at 12 MP: a third smaller than method 0 for twice its
# time, and still faster than the lossy quality 90 it replaces; docs/measurements.md)
WEBP = {"lossless": True, "exact": True, "quality": 0, "method": 1}
JPEG_QUALITY = 92


@dataclass(frozen=True)
class Setting:
    level: int  # zlib's
    strategy: int
    filter: int


SETTINGS = {
    0: Setting(0, STRATEGY_DEFAULT, FILTER_NONE),  # stored: no filter pays without deflate
    **{level: Setting(level, STRATEGY_RLE, FILTER_PAETH) for level in range(1, 6)},
    **{level: Setting(level, STRATEGY_DEFAULT, FILTER_PAETH) for level in range(6, 10)},
}


def encode(image: Image.Image, fmt: str, png_level: int) -> bytes:
    """``image`` in ``fmt`` (png, webp, jpg), its ICC profile kept (``info``); JPEG drops alpha."""
    if fmt == "png":
        return encode_png(image, png_level)
    buffer = io.BytesIO()
    profile = {ICC: image.info[ICC]} if ICC in image.info else {}
    if fmt == "webp":
        image.save(buffer, format="WEBP", **WEBP, **profile)
    else:
        flat = image.convert("L" if image.mode == "L" else "RGB")
        flat.save(buffer, format="JPEG", quality=JPEG_QUALITY, **profile)
    return buffer.getvalue()


def encode_png(image: Image.Image, level: int) -> bytes:
    """``image`` as PNG at compression ``level`` (0..9), its ICC profile kept."""
    try:
        import imagecodecs
    except ImportError as e:  # a core dependency: only a broken install lands here
        raise ImportError(f"PNG output needs imagecodecs: {INSTALL_HINT}") from e
    setting = SETTINGS[level]
    pixels = np.asarray(image if image.mode in MODES else image.convert("RGBA"))
    data = imagecodecs.png_encode(
        pixels, level=setting.level, strategy=setting.strategy, filter=setting.filter
    )
    profile = image.info.get(ICC)
    return data if not profile else with_icc_profile(data, profile)


def with_icc_profile(data: bytes, profile: bytes) -> bytes:
    """PNG bytes with an ``iCCP`` chunk right after ``IHDR`` (where the spec wants it)."""
    body = ICC_NAME + b"\0\0" + zlib.compress(profile)  # name, separator, method 0 (deflate)
    return data[:SIGNATURE_AND_IHDR] + _chunk(b"iCCP", body) + data[SIGNATURE_AND_IHDR:]


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
