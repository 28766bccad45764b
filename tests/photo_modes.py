"""A real 8-bit photo written the way scanners, cameras and phones write it: 16-bit grey and
RGB(A) PNGs, big-endian 16-bit TIFF, 32-bit integer and float TIFFs, HEIC, and files with an
ICC profile. Each deep file holds what a person sees in the 8-bit one."""

from __future__ import annotations

import io
from collections.abc import Callable

import cv2
import numpy as np
from PIL import Image, ImageCms

from u2net.image.decode import register_heif

ORIENTATION = 0x0112


def _saved(image: Image.Image, fmt: str, **kwargs: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def deep16(eight: np.ndarray) -> np.ndarray:
    """8-bit values -> 16-bit ones with detail in the low bits: ``x * 257`` plus up to ±128,
    each of which is ``x`` again by ÷257 with rounding (and 255 for x=255 by clipping)."""
    dither = np.random.default_rng(23).integers(-128, 129, eight.shape)
    return np.clip(eight.astype(np.int64) * 257 + dither, 0, 65535).astype(np.uint16)


def _cv2_png(rgb16: np.ndarray, suffix: str = ".png") -> bytes:
    """Pillow cannot write 16-bit colour; OpenCV can (it wants BGR order)."""
    code = cv2.COLOR_RGBA2BGRA if rgb16.shape[2] == 4 else cv2.COLOR_RGB2BGR
    ok, data = cv2.imencode(suffix, cv2.cvtColor(rgb16, code))
    assert ok
    return data.tobytes()


def grey16_png(rgb: Image.Image) -> bytes:
    return _saved(Image.fromarray(deep16(np.asarray(rgb.convert("L")))), "PNG")


def grey16_tiff(rgb: Image.Image) -> bytes:
    """Big-endian 16-bit grey TIFF (mode I;16B), as many scanners write it."""
    grey = deep16(np.asarray(rgb.convert("L"))).astype(">u2")
    image = Image.fromarray(grey)
    assert image.mode == "I;16B"
    return _saved(image, "TIFF")


def rgb16_png(rgb: Image.Image) -> bytes:
    return _cv2_png(deep16(np.asarray(rgb)))


def rgb16_tiff(rgb: Image.Image) -> bytes:
    return _cv2_png(deep16(np.asarray(rgb)), ".tiff")


def rgba16_png(rgb: Image.Image) -> bytes:
    """16-bit RGBA with a half-transparent alpha (dropped by the decode, as ever)."""
    pixels = deep16(np.asarray(rgb))
    alpha = np.full((*pixels.shape[:2], 1), 30000, np.uint16)
    return _cv2_png(np.concatenate([pixels, alpha], axis=2))


def int32_tiff(rgb: Image.Image) -> bytes:
    """Mode I: 32-bit integers over the full unsigned range (numpy's uint32 in Pillow)."""
    grey = np.asarray(rgb.convert("L")).astype(np.uint32) * 16843009  # 255 -> 2**32 - 1
    return _saved(Image.fromarray(grey), "TIFF")


def float_tiff(rgb: Image.Image) -> bytes:
    """Mode F: 0..1."""
    grey = np.asarray(rgb.convert("L")).astype(np.float32) / 255
    return _saved(Image.fromarray(grey), "TIFF")


def heic(rgb: Image.Image, orientation: int = 1, icc: bytes | None = None) -> bytes:
    """Lossless HEIC (4:4:4, RGB matrix) written with pillow-heif, EXIF orientation and ICC
    as a phone writes them (pillow-heif stores the orientation as the file's rotation)."""
    register_heif()
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    extra = {"icc_profile": icc} if icc else {}
    return _saved(
        rgb,
        "HEIF",
        quality=-1,
        chroma=444,
        matrix_coefficients=0,
        exif=exif.tobytes(),
        **extra,
    )


# name -> (writer, the 8-bit mode whose picture it holds)
DEEP: dict[str, tuple[Callable[[Image.Image], bytes], str]] = {
    "grey16-png": (grey16_png, "L"),
    "grey16-tiff": (grey16_tiff, "L"),
    "rgb16-png": (rgb16_png, "RGB"),
    "rgb16-tiff": (rgb16_tiff, "RGB"),
    "rgba16-png": (rgba16_png, "RGB"),
    "int32-tiff": (int32_tiff, "L"),
    "float-tiff": (float_tiff, "L"),
    "heic": (heic, "RGB"),
}


def rgb_profile() -> bytes:
    """An RGB ICC profile (LittleCMS's sRGB), as a camera or editor embeds one."""
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def jpeg_with_profile(rgb: Image.Image, icc: bytes) -> bytes:
    return _saved(rgb, "JPEG", quality=95, icc_profile=icc)
