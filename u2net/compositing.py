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
tiles holding a pixel with 0 < alpha < ``OPAQUE``, upsampled bilinearly there (the grid rows
a tile touches stretched to its width, then one thin matrix product). ``clean`` shares its
work with ``WORKERS`` threads: the grid beside Pillow's full-size layout, then the tiles in
two halves; the pixels are the same whichever thread computes them.
"""

from __future__ import annotations

import functools
import os
from concurrent.futures import ThreadPoolExecutor

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
_CLEAR_LUT = [255 if value == 0 else 0 for value in range(256)]
WORKERS = 2  # threads clean's work is shared out to (measured on 2 cores; docs/compositing.md)
Region = tuple[int, int, int, int]  # top, bottom, left, right


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
    estimated foreground colour in between. A worker lays out the rules at full size while
    this thread estimates the blurred colours on the working grid (with the other worker);
    then both workers estimate the tiles that hold pixels in between and paste them."""
    soft = any(mask.histogram()[1:OPAQUE])
    layout = _workers().submit(_layout, rgb, mask, soft)
    grid = _blurred_grid(rgb, mask) if soft else None
    out, regions = layout.result()
    if grid is not None:
        paste = functools.partial(_paste_estimates, out, rgb, mask, grid)
        list(_workers().map(paste, _halves(regions)))
    out.putalpha(mask)  # last: pasting the RGB tiles made their alpha opaque
    return out


def _layout(rgb: Image.Image, mask: Image.Image, soft: bool) -> tuple[Image.Image, list[Region]]:
    """The rules at full size (the photo's colour, RGB 0 where alpha is 0; alpha comes last)
    and, when there are soft pixels, the regions of tiles that hold them."""
    out = rgb.convert("RGBA")
    out.paste(0, mask=mask.point(_CLEAR_LUT, "1"))
    return out, _band_regions(np.asarray(mask, dtype=np.uint8)) if soft else []


def _paste_estimates(
    out: Image.Image, rgb: Image.Image, mask: Image.Image, grid: np.ndarray, regions: list[Region]
) -> None:
    """Estimate each region's pixels with 0 < alpha < ``OPAQUE`` and paste them into ``out``,
    given the working grid's blurred foreground F and F − B ([2, h, w, 3]). Regions do not
    overlap, so both workers paste into ``out`` at once."""
    rows = _interpolation(rgb.height, grid.shape[1])
    columns = _columns(rgb.width, grid.shape[2])
    for top, bottom, left, right in regions:
        box = (left, top, right, bottom)
        colour = np.asarray(rgb.crop(box))
        alpha = mask.crop(box)
        f, d = _upsampled(grid, rows[top:bottom], columns[:, left:right])
        estimate = _estimate(colour.reshape(f.shape), np.asarray(alpha), f, d)
        tile = Image.fromarray(estimate.reshape(colour.shape), mode="RGB")
        out.paste(tile, box[:2], alpha.point(_BAND_LUT, "1"))


def _halves(regions: list[Region]) -> tuple[list[Region], list[Region]]:
    """The regions in order, cut where the first half holds half of their area."""
    areas = np.cumsum([(bottom - top) * (right - left) for top, bottom, left, right in regions])
    cut = int(np.searchsorted(areas, areas[-1] / 2)) + 1
    return regions[:cut], regions[cut:]


def _workers() -> ThreadPoolExecutor:
    """The threads ``clean`` shares its work with (numpy and Pillow release the GIL): one
    pool per process, so a forked child never waits on its parent's threads."""
    return _pool(os.getpid())


@functools.cache
def _pool(pid: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix=f"clean-{pid}")


def _blurred_grid(rgb: Image.Image, mask: Image.Image) -> np.ndarray:
    """The working grid's blurred foreground F and F − B, channels last ([2, h, w, 3],
    0..255)."""
    foreground, background = _blurred_colors(rgb, mask)
    stacked = np.stack([foreground, foreground - background]).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(stacked) * 255


def _estimate(colour: np.ndarray, alpha: np.ndarray, f: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Blur fusion's final step on a tile whose rows hold each pixel's three channels in turn
    ([h, 3w], 0..255, uint8 out), alpha per pixel ([h, w]):
    F + a·(I − a·F − (1 − a)·B), written with D = F − B as F + a·(I − F + (1 − a)·D)."""
    a = np.repeat(alpha, 3, axis=1).astype(np.float32)
    a /= 255
    estimate = colour - f
    d *= 1 - a
    estimate += d
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


def _positions(full: int, grid: int) -> np.ndarray:
    """Where each of ``full`` pixels' centres falls on a ``grid`` of cells (centres aligned),
    clipped to the outer cells' centres."""
    return np.clip((np.arange(full) + 0.5) * (grid / full) - 0.5, 0, grid - 1)


def _interpolation(full: int, grid: int) -> np.ndarray:
    """Bilinear interpolation along one axis as a matrix [full, grid]: row i holds the
    weights of the two working-grid cells around pixel i."""
    weights = np.zeros((full, grid), dtype=np.float32)
    position = _positions(full, grid)
    lower = position.astype(np.intp)
    upper = np.minimum(lower + 1, grid - 1)
    index = np.arange(full)
    weights[index, lower] = 1 - (position - lower)
    weights[index, upper] += position - lower
    return weights


def _columns(full: int, grid: int) -> np.ndarray:
    """Bilinear interpolation along the width, per pixel: the grid columns on either side
    and the weight of the right one ([3, full], float32)."""
    position = _positions(full, grid)
    lower = np.floor(position)
    return np.stack([lower, np.minimum(lower + 1, grid - 1), position - lower]).astype(np.float32)


def _upsampled(grid: np.ndarray, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """The working-grid maps ([m, h, w, c]) bilinearly sampled at a tile's pixels, given the
    tile's rows of the vertical interpolation matrix and its ``_columns``: the grid rows the
    tile touches are stretched to its width, then one thin matrix product per map ([m, rows,
    width·c], each pixel's channels in turn)."""
    used = np.flatnonzero(rows.any(axis=0))
    first, last = int(used[0]), int(used[-1]) + 1
    lower, upper = (grid[:, first:last, index.astype(np.intp)] for index in columns[:2])
    upper -= lower
    upper *= columns[2][:, None]
    upper += lower
    return rows[:, first:last] @ upper.reshape(*upper.shape[:2], -1)


def _blurred_colors(rgb: Image.Image, mask: Image.Image) -> tuple[np.ndarray, np.ndarray]:
    """Blur fusion's passes on the working grid -> the last pass's blurred foreground and
    background colours (float32, channels first [3, h, w], 0..1)."""
    scale = min(1.0, WORK_SIDE / max(rgb.size))
    if scale < 1.0:
        size = (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale)))
        small = _workers().submit(rgb.resize, size, Image.Resampling.BOX)
        mask = mask.resize(size, Image.Resampling.BOX)
        rgb = small.result()
    image = np.ascontiguousarray(np.asarray(rgb, dtype=np.float32).transpose(2, 0, 1)) / 255
    alpha = np.asarray(mask, dtype=np.float32) / 255
    clear = 1 - alpha
    foreground, background = image, image
    for radius in RADII:
        sums = _box_sums(
            np.concatenate([foreground * alpha, background * clear, alpha[None]]), radius
        )
        f = sums[0:3] / (sums[6] + EPS)
        b = sums[3:6] / (_window_sizes(alpha.shape, radius) - sums[6] + EPS)
        foreground = np.clip(f + alpha * (image - alpha * f - clear * b), 0, 1)
        background = b
    return f, b


def _box_sums(x: np.ndarray, radius: int) -> np.ndarray:
    """``_box_sum`` of each channel, the first half of them on a worker."""
    half = x.shape[0] // 2
    first = _workers().submit(_box_sum, x[:half], radius)
    rest = _box_sum(x[half:], radius)
    return np.concatenate([first.result(), rest])


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
