"""rembg's alpha matting (``-a``): a trimap from the mask, closed-form matting, foreground.

Pure numpy/PIL in and out, like the rest of the image work; pymatting and scipy are heavy and
optional, so they are imported here only, when matting is asked for.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from u2net.errors import ServingError

INSTALL_HINT = "alpha matting needs pymatting: pip install 'u2net-triton[matting]'"


@dataclass(frozen=True)
class MattingOptions:
    """rembg's defaults: -af 240, -ab 10, -ae 10."""

    foreground_threshold: int = 240
    background_threshold: int = 10
    erode_size: int = 10


def trimap(mask: np.ndarray, options: MattingOptions) -> np.ndarray:
    """Sure foreground 255, sure background 0, unknown 128 (after erosion of both)."""
    from scipy.ndimage import binary_erosion

    structure = (
        np.ones((options.erode_size, options.erode_size), dtype=np.uint8)
        if options.erode_size > 0
        else None
    )
    foreground = binary_erosion(mask > options.foreground_threshold, structure=structure)
    background = binary_erosion(
        mask < options.background_threshold, structure=structure, border_value=1
    )
    out = np.full(mask.shape, 128, dtype=np.uint8)
    out[foreground] = 255
    out[background] = 0
    return out


def matte(rgb: Image.Image, mask: Image.Image, options: MattingOptions) -> Image.Image:
    """RGB photo + mask (same size) -> RGBA cut-out with estimated alpha and foreground."""
    try:
        from pymatting import estimate_alpha_cf, estimate_foreground_ml, stack_images
    except ImportError as e:
        raise ServingError(INSTALL_HINT) from e
    image = np.asarray(rgb, dtype=np.float64) / 255.0
    tri = trimap(np.asarray(mask), options) / 255.0
    alpha = estimate_alpha_cf(image, tri)
    foreground = estimate_foreground_ml(image, alpha)
    cutout = np.clip(stack_images(foreground, alpha) * 255, 0, 255).astype(np.uint8)
    return Image.fromarray(cutout, mode="RGBA")
