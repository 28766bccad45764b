"""The one compositing step: a photo and its mask (same size) -> the cut-out's RGBA pixels.

Three modes (``--composite``, the ``composite`` parameter and field):

- ``clean`` (the default): the foreground's own colour in soft pixels, estimated by blur
  fusion (Forte & Pitié 2021, "Approximate Fast Foreground Colour Estimation", passes of
  ``RADII``); the photo's colour where alpha >= ``OPAQUE``; RGB 0 where alpha is 0.
- ``rembg``: exactly what rembg 2.0.86's ``remove()`` writes: the photo composited with
  transparent black through the mask (its ``naive_cutout``), and its way of laying a
  background colour under it (``apply_background_color``).
- ``straight``: the photo's RGB untouched, the mask as alpha. It keeps the photo's colours
  under transparent pixels.

Pure numpy/PIL. Photos larger than ``WORK_SIDE`` estimate the blurred colours on a grid of
that size (box-averaged); the estimate is applied at full size only in the ``TILE``-pixel
tiles holding a pixel with 0 < alpha < ``OPAQUE``, upsampled bilinearly there by two small
matrix products (no gathers).
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
OPAQUE = 250  # from this alpha up, the estimate is within 2 % of the photo's colour: keep it
_BAND_LUT = [255 if 0 < value < OPAQUE else 0 for value in range(256)]
TILE = 64  # side of the tiles the estimate is computed on (full-size pixels)
_OPAQUE_LUT = [255 if value >= OPAQUE else 0 for value in range(256)]


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
    """``clean``: the photo's colour where alpha >= ``OPAQUE``, RGB 0 under alpha 0, the
    estimated foreground colour in between. Pillow lays out the rules at full size; numpy
    estimates only the tiles that hold pixels in between."""
    out = Image.new("RGB", rgb.size, 0)
    out.paste(rgb, mask=mask.point(_OPAQUE_LUT))
    alpha = np.asarray(mask, dtype=np.uint8)
    regions = _band_regions(alpha)
    if regions:
        foreground, background = _blurred_colors(rgb, mask)
        grid = np.concatenate([foreground, foreground - background]) * 255
        rows = _interpolation(rgb.height, grid.shape[1])
        cols = _interpolation(rgb.width, grid.shape[2])
    for top, bottom, left, right in regions:
        box = (left, top, right, bottom)
        colour = np.asarray(rgb.crop(box), dtype=np.float32).transpose(2, 0, 1)
        blurred = _upsampled(grid, rows[top:bottom], cols[left:right])
        estimate = _estimate(colour, alpha[top:bottom, left:right], blurred[:3], blurred[3:])
        tile = Image.fromarray(np.ascontiguousarray(estimate.transpose(1, 2, 0)), mode="RGB")
        out.paste(tile, box[:2], mask.crop(box).point(_BAND_LUT))
    out.putalpha(mask)
    return out


def _estimate(colour: np.ndarray, alpha: np.ndarray, f: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Blur fusion's final step on a tile, channels first, 0..255 (uint8 out):
    F + a·(I − a·F − (1 − a)·B), written with D = F − B as F + a·(I − F + (1 − a)·D)."""
    a = alpha.astype(np.float32) / 255
    estimate = colour - f
    estimate += (1 - a) * d
    estimate *= a
    estimate += f
    np.clip(estimate, 0, 255, out=estimate)
    return np.rint(estimate, out=estimate).astype(np.uint8)


def _band_regions(alpha: np.ndarray) -> list[tuple[int, int, int, int]]:
    """(top, bottom, left, right) of runs of ``TILE``-pixel tiles along each strip of
    ``TILE`` rows that hold a pixel with 0 < alpha < ``OPAQUE``."""
    band = ((alpha - 1) < OPAQUE - 1).view(np.uint8)  # uint8 wraps 0 to 255
    height, width = alpha.shape
    starts_y, starts_x = np.arange(0, height, TILE), np.arange(0, width, TILE)
    tiles = np.maximum.reduceat(np.maximum.reduceat(band, starts_y, axis=0), starts_x, axis=1)
    regions = []
    for i, flags in enumerate(tiles):
        edges = np.flatnonzero(np.diff(np.concatenate([[0], flags, [0]])))
        top, bottom = i * TILE, min((i + 1) * TILE, height)
        for first, last in edges.reshape(-1, 2):
            regions.append((top, bottom, first * TILE, min(last * TILE, width)))
    return regions


def _interpolation(full: int, grid: int) -> np.ndarray:
    """Bilinear interpolation along one axis as a matrix [full, grid] (pixel centres
    aligned): row i holds the weights of the two working-grid cells around pixel i."""
    weights = np.zeros((full, grid), dtype=np.float32)
    if grid == full:
        np.fill_diagonal(weights, 1)
        return weights
    position = np.clip((np.arange(full) + 0.5) * (grid / full) - 0.5, 0, grid - 1)
    lower = position.astype(np.intp)
    upper = np.minimum(lower + 1, grid - 1)
    index = np.arange(full)
    weights[index, lower] = 1 - (position - lower)
    weights[index, upper] += position - lower
    return weights


def _upsampled(grid: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """The working-grid maps ([c, h, w]) bilinearly sampled at a tile's pixels, given the
    tile's rows of both interpolation matrices: two small matrix products on the grid cells
    the tile touches."""
    first_y, last_y = _span(rows)
    first_x, last_x = _span(cols)
    strip = grid[:, first_y:last_y, first_x:last_x]
    return rows[:, first_y:last_y] @ strip @ cols[:, first_x:last_x].T


def _span(weights: np.ndarray) -> tuple[int, int]:
    """The first and one past the last grid cell with a weight in these rows."""
    used = np.flatnonzero(weights.any(axis=0))
    return int(used[0]), int(used[-1]) + 1


def _blurred_colors(rgb: Image.Image, mask: Image.Image) -> tuple[np.ndarray, np.ndarray]:
    """Blur fusion's passes on the working grid -> the last pass's blurred foreground and
    background colours (float32, channels first [3, h, w], 0..1)."""
    scale = min(1.0, WORK_SIDE / max(rgb.size))
    if scale < 1.0:
        size = (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale)))
        rgb, mask = rgb.resize(size, Image.Resampling.BOX), mask.resize(size, Image.Resampling.BOX)
    image = np.ascontiguousarray(np.asarray(rgb, dtype=np.float32).transpose(2, 0, 1)) / 255
    alpha = np.asarray(mask, dtype=np.float32) / 255
    clear = 1 - alpha
    foreground, background = image, image
    for radius in RADII:
        sums = _box_sum(
            np.concatenate([foreground * alpha, background * clear, alpha[None]]), radius
        )
        f = sums[0:3] / (sums[6] + EPS)
        b = sums[3:6] / (_window_sizes(alpha.shape, radius) - sums[6] + EPS)
        foreground = np.clip(f + alpha * (image - alpha * f - clear * b), 0, 1)
        background = b
    return f, b


def _box_sum(x: np.ndarray, radius: int) -> np.ndarray:
    """Sum over the (2r+1)² window around each pixel of each channel ([c, h, w], zero
    outside): the normalisation cancels in blur fusion's ratios, so sums stand for means.
    Running totals over the input padded with ``radius`` zeros each side, so every window
    is a difference of two slices."""
    channels, height, width = x.shape
    span = 2 * radius + 1
    total = np.zeros((channels, height + span, width), dtype=x.dtype)
    total[:, radius + 1 : radius + 1 + height] = x
    for row in range(radius + 2, radius + 1 + height + radius):  # numpy's cumsum is slow here
        total[:, row] += total[:, row - 1]
    x = total[:, span:] - total[:, :height]
    total = np.zeros((channels, height, width + span), dtype=x.dtype)
    total[:, :, radius + 1 : radius + 1 + width] = x
    np.cumsum(total, axis=2, out=total)
    return total[:, :, span:] - total[:, :, :width]


def _window_sizes(shape: tuple[int, int], radius: int) -> np.ndarray:
    """How many pixels of the image each (2r+1)² window holds: the box sum of ones."""
    height, width = (
        np.minimum(np.arange(n) + radius, n - 1) - np.maximum(np.arange(n) - radius, 0) + 1
        for n in shape
    )
    return np.outer(height, width).astype(np.float32)
