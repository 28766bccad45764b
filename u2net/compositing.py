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
tiles holding a pixel with 0 < alpha < ``OPAQUE``.
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
        rows = _grid_positions(rgb.height, grid.shape[1])
        cols = _grid_positions(rgb.width, grid.shape[2])
    for top, bottom, left, right in regions:
        box = (left, top, right, bottom)
        colour = np.asarray(rgb.crop(box), dtype=np.float32).transpose(2, 0, 1)
        blurred = _upsampled(grid, rows, cols, (top, bottom, left, right))
        estimate = _estimate(colour, alpha[top:bottom, left:right], blurred[:3], blurred[3:])
        tile = Image.merge("RGB", [Image.fromarray(channel) for channel in estimate])
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


def _grid_positions(full: int, grid: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each full-size pixel along one axis: the working-grid cells below and above it
    and the bilinear weight of the upper one (pixel centres aligned)."""
    if grid == full:
        index = np.arange(full)
        return index, index, np.zeros(full, dtype=np.float32)
    position = np.clip((np.arange(full) + 0.5) * (grid / full) - 0.5, 0, grid - 1)
    position = position.astype(np.float32)
    lower = position.astype(np.intp)
    return lower, np.minimum(lower + 1, grid - 1), (position - lower)


def _upsampled(grid: np.ndarray, rows: tuple, cols: tuple, box: tuple) -> np.ndarray:
    """The working-grid maps ([c, h, w]) bilinearly sampled at a full-size tile's pixels:
    along rows on the few grid rows the tile needs, then across them (row copies)."""
    top, bottom, left, right = box
    y0, y1, wy = (part[top:bottom] for part in rows)
    x0, x1, wx = (part[left:right] for part in cols)
    first, last = y0[0], y1[-1] + 1
    strip = grid[:, first:last]
    lower = strip[:, :, x0]
    across = lower + wx * (strip[:, :, x1] - lower)
    lower = across[:, y0 - first]
    return lower + wy[:, None] * (across[:, y1 - first] - lower)


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
    outside): the normalisation cancels in blur fusion's ratios, so sums stand for means."""
    channels, height, width = x.shape
    total = np.zeros((channels, height + 1, width), dtype=x.dtype)
    total[:, 1:] = x
    for row in range(1, height + 1):  # row by row: numpy's cumsum is slow across rows
        total[:, row] += total[:, row - 1]
    x = _window(total, radius, axis=1)
    total = np.zeros((channels, height, width + 1), dtype=x.dtype)
    np.cumsum(x, axis=2, out=total[:, :, 1:])
    return _window(total, radius, axis=2)


def _window_sizes(shape: tuple[int, int], radius: int) -> np.ndarray:
    """How many pixels of the image each (2r+1)² window holds: the box sum of ones."""
    height, width = (
        np.minimum(np.arange(n) + radius, n - 1) - np.maximum(np.arange(n) - radius, 0) + 1
        for n in shape
    )
    return np.outer(height, width).astype(np.float32)


def _window(total: np.ndarray, radius: int, axis: int) -> np.ndarray:
    """Window sums from running totals that start with a zero along ``axis``."""
    size = total.shape[axis] - 1
    index = np.arange(size)
    upper, lower = np.minimum(index + radius + 1, size), np.maximum(index - radius, 0)
    return np.take(total, upper, axis=axis) - np.take(total, lower, axis=axis)
