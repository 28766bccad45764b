"""rembg's ``--post-process-mask`` in numpy, bit-identical to its OpenCV code (pure)."""

from __future__ import annotations

import numpy as np
from PIL import Image

# rembg's post_process (bg.py): cv2.morphologyEx(MORPH_OPEN, 3x3 ellipse), GaussianBlur 5x5
# sigma 2 (BORDER_REFLECT_101), threshold at 127. Re-done in numpy without OpenCV; the blur
# uses OpenCV's bit-exact 8-bit fixed-point kernel, so the result is identical.
_BLUR_KERNEL = np.array([39, 57, 64, 57, 39], dtype=np.uint32)  # sums to 256
_BLUR_SHIFT = 16  # two passes of 8 fractional bits


def _cross(a: np.ndarray, reduce: np.ufunc) -> np.ndarray:
    """min/max over each pixel and its 4 neighbours (the 3x3 ellipse is a cross), written
    into one array (no stack of the five shifted copies)."""
    p = np.pad(a, 1, mode="edge")  # out of bounds never wins: edge copies the centre
    out = p[1:-1, 1:-1].copy()
    for neighbour in (p[:-2, 1:-1], p[2:, 1:-1], p[1:-1, :-2], p[1:-1, 2:]):
        reduce(out, neighbour, out=out)
    return out


def _blur_pass(a: np.ndarray, axis: int, length: int, dtype: type) -> np.ndarray:
    """The 5-tap kernel along ``axis`` of the padded ``a``: ``length`` sums, in ``dtype``,
    accumulated in place (one term at a time)."""
    shape = (length, a.shape[1]) if axis == 0 else (a.shape[0], length)
    total, term = np.zeros(shape, dtype=dtype), np.empty(shape, dtype=dtype)
    for i, k in enumerate(_BLUR_KERNEL):
        part = a[i : i + length] if axis == 0 else a[:, i : i + length]
        total += np.multiply(part, k, out=term, dtype=dtype)
    return total


def post_process_mask(mask: Image.Image) -> Image.Image:
    """rembg's ``--post-process-mask``: open, blur, binarise (mode L in, mode L out). The
    first blur pass fits 16 bits (at most 255·256), the second needs 32."""
    opened = _cross(_cross(np.asarray(mask, dtype=np.uint8), np.minimum), np.maximum)
    h, w = opened.shape
    rows = _blur_pass(np.pad(opened, 2, mode="reflect"), 1, w, np.uint16)
    blurred = _blur_pass(rows, 0, h, np.uint32)
    del rows
    blurred += 1 << (_BLUR_SHIFT - 1)
    blurred >>= _BLUR_SHIFT
    return Image.fromarray(np.where(blurred < 127, 0, 255).astype(np.uint8), mode="L")
