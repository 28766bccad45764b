"""The one compositing step: a photo and its mask (same size) -> the cut-out's RGBA pixels.

Three modes (``--composite``, the ``composite`` parameter and field):

- ``clean`` (the default): the foreground's own colour in soft pixels, estimated by blur
  fusion (Forte & Pitié 2021, "Approximate Fast Foreground Colour Estimation", two passes,
  radii 90 and 6); the photo's colour where alpha is 255; RGB 0 where alpha is 0.
- ``rembg``: exactly what rembg 2.0.86's ``remove()`` writes: the photo composited with
  transparent black through the mask (its ``naive_cutout``), and its way of laying a
  background colour under it (``apply_background_color``).
- ``straight``: the photo's RGB untouched, the mask as alpha. It keeps the photo's colours
  under transparent pixels.

Pure numpy/PIL. Photos larger than ``WORK_SIDE`` estimate the blurred colours on a grid of
that size (box-averaged) and apply the estimate to each soft pixel at full size.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

Color = tuple[int, int, int, int]

CLEAN, REMBG, STRAIGHT = "clean", "rembg", "straight"
MODES = (CLEAN, REMBG, STRAIGHT)
DEFAULT_MODE = CLEAN
EXPLANATIONS = {
    CLEAN: "the subject's own colour at soft edges (no fringe); nothing under transparent pixels",
    REMBG: "exactly rembg's image: the photo faded to transparent black through the mask",
    STRAIGHT: "the photo's colours untouched; transparent pixels keep the removed background",
}
RADII = (40, 20, 10, 5)  # blur fusion passes, in pixels of the working grid (measured)
WORK_SIDE = 512  # longest side the blurred colours are estimated at (measured)
EPS = 1e-6


def cutout(rgb: Image.Image, mask: Image.Image, mode: str = DEFAULT_MODE) -> Image.Image:
    """RGB photo + mode L mask of the same size -> RGBA cut-out in ``mode``."""
    if mode == REMBG:
        return Image.composite(rgb.convert("RGBA"), Image.new("RGBA", rgb.size, 0), mask)
    if mode == STRAIGHT:
        rgba = rgb.convert("RGBA")
        rgba.putalpha(mask)
        return rgba
    if mode == CLEAN:
        return clean_cutout(rgb, mask)
    raise ValueError(f"expected a composite mode from {', '.join(MODES)}, got {mode!r}")


def with_alpha(rgba: Image.Image, mode: str) -> Image.Image:
    """A cut-out made elsewhere (alpha matting's foreground) in ``mode``: ``clean`` clears
    RGB where alpha is 0; ``rembg`` and ``straight`` keep it as it is (rembg writes its
    matting foreground as is)."""
    if mode != CLEAN:
        return rgba
    pixels = np.array(rgba)
    pixels[pixels[..., 3] == 0] = 0
    return Image.fromarray(pixels, mode="RGBA")


def over_color(rgba: Image.Image, color: Color, mode: str = DEFAULT_MODE) -> Image.Image:
    """A cut-out over a solid colour. ``rembg``: rembg's ``apply_background_color`` (RGBA,
    pasted through its own alpha); otherwise alpha compositing (opaque colour -> RGB)."""
    if mode == REMBG:
        colored = Image.new("RGBA", rgba.size, color)
        colored.paste(rgba, mask=rgba)
        return colored
    composed = Image.alpha_composite(Image.new("RGBA", rgba.size, color), rgba)
    return composed.convert("RGB") if color[3] == 255 else composed


def clean_cutout(rgb: Image.Image, mask: Image.Image) -> Image.Image:
    """``clean``: estimated foreground colour in soft pixels, RGB 0 under alpha 0."""
    alpha = np.asarray(mask, dtype=np.uint8).reshape(-1)
    out = np.asarray(rgb.convert("RGBA"), dtype=np.uint8).copy()
    flat = out.reshape(-1, 4)
    soft = np.flatnonzero((alpha - 1) < 254)  # 0 < alpha < 255, in one pass (uint8 wraps)
    colour = flat[soft, :3].astype(np.float32) / 255
    flat[alpha != 255] = 0
    flat[:, 3] = alpha
    if soft.size:
        blurred_f, blurred_b = _blurred_colors(rgb, mask)
        a = alpha[soft, None].astype(np.float32) / 255
        rows, cols = np.divmod(soft, rgb.width)
        f = _sample(blurred_f, rows, cols, (rgb.height, rgb.width))
        b = _sample(blurred_b, rows, cols, (rgb.height, rgb.width))
        estimate = f + a * (colour - a * f - (1 - a) * b)
        flat[soft, :3] = np.rint(np.clip(estimate, 0, 1) * 255).astype(np.uint8)
    return Image.fromarray(out, mode="RGBA")


def _blurred_colors(rgb: Image.Image, mask: Image.Image) -> tuple[np.ndarray, np.ndarray]:
    """Blur fusion's passes on the working grid -> the last pass's blurred foreground and
    background colours (float32, [h, w, 3], 0..1)."""
    scale = min(1.0, WORK_SIDE / max(rgb.size))
    if scale < 1.0:
        size = (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale)))
        rgb, mask = rgb.resize(size, Image.Resampling.BOX), mask.resize(size, Image.Resampling.BOX)
    image = np.asarray(rgb, dtype=np.float32) / 255
    alpha = np.asarray(mask, dtype=np.float32)[..., None] / 255
    foreground, background = image, image
    for radius in RADII:
        f = _blur_ratio(foreground * alpha, alpha, radius)
        b = _blur_ratio(background * (1 - alpha), 1 - alpha, radius)
        foreground = np.clip(f + alpha * (image - alpha * f - (1 - alpha) * b), 0, 1)
        background = b
    return f, b


def _blur_ratio(weighted: np.ndarray, weight: np.ndarray, radius: int) -> np.ndarray:
    """Box-blurred ``weighted`` over box-blurred ``weight``: the weighted mean colour."""
    sums = _box_sum(np.concatenate([weighted, weight], axis=2), radius)
    return sums[..., :3] / (sums[..., 3:] + EPS)


def _box_sum(x: np.ndarray, radius: int) -> np.ndarray:
    """Sum over the (2r+1)² window around each pixel (zero outside): the normalisation
    cancels in blur fusion's ratios, so sums stand for means."""
    width = 2 * radius + 1
    for axis in (0, 1):
        pad = [(0, 0)] * x.ndim
        pad[axis] = (radius + 1, radius)
        total = np.cumsum(np.pad(x, pad), axis=axis)
        upper = [slice(None)] * x.ndim
        lower = [slice(None)] * x.ndim
        upper[axis], lower[axis] = slice(width, None), slice(0, -width)
        x = total[tuple(upper)] - total[tuple(lower)]
    return x


def _sample(grid: np.ndarray, rows: np.ndarray, cols: np.ndarray, shape: tuple) -> np.ndarray:
    """Bilinear samples of a working-grid map at full-size pixel positions."""
    height, width = grid.shape[:2]
    if (height, width) == shape:
        return grid[rows, cols]
    y = np.clip((rows + 0.5) * (height / shape[0]) - 0.5, 0, height - 1).astype(np.float32)
    x = np.clip((cols + 0.5) * (width / shape[1]) - 0.5, 0, width - 1).astype(np.float32)
    y0, x0 = y.astype(np.intp), x.astype(np.intp)
    y1, x1 = np.minimum(y0 + 1, height - 1), np.minimum(x0 + 1, width - 1)
    wy, wx = (y - y0)[:, None], (x - x0)[:, None]
    top = grid[y0, x0] * (1 - wx) + grid[y0, x1] * wx
    bottom = grid[y1, x0] * (1 - wx) + grid[y1, x1] * wx
    return top * (1 - wy) + bottom * wy
