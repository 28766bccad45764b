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
    """min/max over each pixel and its 4 neighbours (the 3x3 ellipse is a cross)."""
    p = np.pad(a, 1, mode="edge")  # out of bounds never wins: edge copies the centre
    return reduce.reduce([p[1:-1, 1:-1], p[:-2, 1:-1], p[2:, 1:-1], p[1:-1, :-2], p[1:-1, 2:]])


def post_process_mask(mask: Image.Image) -> Image.Image:
    """rembg's ``--post-process-mask``: open, blur, binarise (mode L in, mode L out)."""
    opened = _cross(_cross(np.asarray(mask, dtype=np.uint8), np.minimum), np.maximum)
    padded = np.pad(opened.astype(np.uint32), 2, mode="reflect")
    h, w = opened.shape
    rows = sum(k * padded[:, i : i + w] for i, k in enumerate(_BLUR_KERNEL))
    blurred = sum(k * rows[i : i + h, :] for i, k in enumerate(_BLUR_KERNEL))
    blurred = (blurred + (1 << (_BLUR_SHIFT - 1))) >> _BLUR_SHIFT
    return Image.fromarray(np.where(blurred < 127, 0, 255).astype(np.uint8), mode="L")
