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
a tile touches stretched to its width, then each pixel row a blend of two of them).
``clean`` shares its work with ``WORKERS`` threads: the grid beside Pillow's full-size
layout, then the tiles in two halves; the pixels are the same whichever thread computes
them. Its passes write into arrays allocated once per call: with the server's allocator
settings (``server/distribution.py``) every fresh array of a megabyte or more is new pages
from the kernel, and their faults cost more than the arithmetic.
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
Axis = tuple[np.ndarray, np.ndarray, np.ndarray]  # lower cell, upper cell, upper's weight


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
    and, when there are soft pixels, the regions of tiles that hold them; a strip of
    ``TILE`` rows at a time, so that no step needs a full-size array of its own."""
    out = rgb.convert("RGBA")
    regions: list[Region] = []
    for top in range(0, mask.height, TILE):
        box = (0, top, mask.width, min(top + TILE, mask.height))
        alpha = mask.crop(box)
        if alpha.getextrema()[0] == 0:
            out.paste(0, box, alpha.point(_CLEAR_LUT, "1"))
        if soft:
            regions += _band_regions(np.asarray(alpha), top)
    return out, regions


def _paste_estimates(
    out: Image.Image, rgb: Image.Image, mask: Image.Image, grid: np.ndarray, regions: list[Region]
) -> None:
    """Estimate each region's pixels with 0 < alpha < ``OPAQUE`` and paste them into ``out``,
    given the working grid's blurred foreground F and F − B ([2, h, w, 3]). Regions do not
    overlap, so both workers paste into ``out`` at once. The arrays of a region's steps are
    allocated once per call and reused."""
    if not regions:
        return
    rows, columns = _axis(rgb.height, grid.shape[1]), _axis(rgb.width, grid.shape[2])
    largest = max((bottom - top) * (right - left) for top, bottom, left, right in regions)
    maps, step = np.empty((2, 2 * largest * 3), dtype=np.float32)  # F and D, 3 channels
    for top, bottom, left, right in regions:
        box = (left, top, right, bottom)
        colour = np.asarray(rgb.crop(box))
        shape = (2, *colour.shape)
        f, d = _upsampled(
            grid,
            [axis[top:bottom] for axis in rows],
            [axis[left:right] for axis in columns],
            _part(maps, shape),
            _part(step, shape),
        )
        alpha = mask.crop(box)
        estimate = _estimate(colour, np.asarray(alpha), f, d, _part(step, colour.shape))
        out.paste(Image.fromarray(estimate, mode="RGB"), box[:2], alpha.point(_BAND_LUT, "1"))


def _part(buffer: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """The start of a flat ``buffer`` as a contiguous array of ``shape``."""
    return buffer[: int(np.prod(shape))].reshape(shape)


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
    grid = np.empty((2, *foreground.shape[1:], 3), dtype=np.float32)
    grid[0] = foreground.transpose(1, 2, 0)
    grid[1] = np.subtract(foreground, background, out=background).transpose(1, 2, 0)
    grid *= 255
    return grid


def _estimate(
    colour: np.ndarray, alpha: np.ndarray, f: np.ndarray, d: np.ndarray, work: np.ndarray
) -> np.ndarray:
    """Blur fusion's final step on a region ([h, w, 3], 0..255, uint8 out; ``d`` and ``work``
    are overwritten), alpha per pixel ([h, w]): F + a·(I − a·F − (1 − a)·B), written with
    D = F − B as F + a·(I − F + (1 − a)·D)."""
    a = np.repeat(alpha, 3, axis=1).astype(np.float32).reshape(colour.shape)  # a per channel:
    a /= 255  # contiguous loops, faster than broadcasting [h, w, 1]
    estimate = np.subtract(colour, f, out=work)
    d *= 1 - a
    estimate += d
    estimate *= a
    estimate += f
    np.clip(estimate, 0, 255, out=estimate)
    return np.rint(estimate, out=estimate).astype(np.uint8)


def _band_regions(alpha: np.ndarray, top: int) -> list[Region]:
    """(top, bottom, left, right) of the runs of ``TILE``-pixel tiles in a strip of rows
    starting at ``top`` ([h, w], h at most ``TILE``) that hold a pixel with 0 < alpha <
    ``OPAQUE``."""
    band = ((alpha - 1) < OPAQUE - 1).any(axis=0).view(np.uint8)  # uint8 wraps 0 to 255
    flags = np.maximum.reduceat(band, np.arange(0, band.size, TILE))
    edges = np.flatnonzero(np.diff(np.concatenate([[0], flags, [0]])))
    bottom, width = top + alpha.shape[0], alpha.shape[1]
    return [
        (top, bottom, first * TILE, min(last * TILE, width)) for first, last in edges.reshape(-1, 2)
    ]


def _positions(full: int, grid: int) -> np.ndarray:
    """Where each of ``full`` pixels' centres falls on a ``grid`` of cells (centres aligned),
    clipped to the outer cells' centres."""
    return np.clip((np.arange(full) + 0.5) * (grid / full) - 0.5, 0, grid - 1)


def _axis(full: int, grid: int) -> Axis:
    """Bilinear interpolation along one axis, per pixel: the grid cells on either side
    (intp) and the weight of the upper one (float32)."""
    position = _positions(full, grid)
    lower = np.floor(position)
    upper = np.minimum(lower + 1, grid - 1)
    return lower.astype(np.intp), upper.astype(np.intp), (position - lower).astype(np.float32)


def _upsampled(
    grid: np.ndarray, rows: Axis, columns: Axis, maps: np.ndarray, step: np.ndarray
) -> np.ndarray:
    """The working-grid maps ([m, h, w, c]) bilinearly sampled at a piece's pixels, given
    the piece's part of each ``_axis``: the grid rows it touches stretched to its width,
    then each pixel row a blend of two of them; written into ``maps`` ([m, rows, width, c]),
    ``step`` overwritten. Element-wise: a matrix product would start BLAS's threads, whose
    waiting cost more CPU than the product itself."""
    (lower_y, upper_y, weight_y), (lower_x, upper_x, weight_x) = rows, columns
    first, last = int(lower_y[0]), int(upper_y[-1]) + 1
    near = grid[:, first:last]
    stretched = near[:, :, lower_x]
    right = near[:, :, upper_x]
    right -= stretched
    right *= weight_x[:, None]
    stretched += right
    rises = np.diff(stretched, axis=1, append=stretched[:, -1:])  # to the next row; 0 last
    np.take(stretched, lower_y - first, axis=1, out=maps, mode="clip")
    np.take(rises, lower_y - first, axis=1, out=step, mode="clip")
    step *= weight_y[:, None, None]
    maps += step
    return maps


def _blurred_colors(rgb: Image.Image, mask: Image.Image) -> tuple[np.ndarray, np.ndarray]:
    """Blur fusion's passes on the working grid -> the last pass's blurred foreground and
    background colours (float32, channels first [3, h, w], 0..1). Every pass writes into
    the same arrays (fresh ones from the allocator cost page faults)."""
    scale = min(1.0, WORK_SIDE / max(rgb.size))
    if scale < 1.0:
        size = (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale)))
        small = _workers().submit(rgb.resize, size, Image.Resampling.BOX)
        mask = mask.resize(size, Image.Resampling.BOX)
        rgb = small.result()
    image = np.ascontiguousarray(np.asarray(rgb, dtype=np.float32).transpose(2, 0, 1)) / 255
    alpha = np.asarray(mask, dtype=np.float32) / 255
    clear = 1 - alpha
    height, width = alpha.shape
    weighted = np.empty((7, height, width), dtype=np.float32)  # F·a, B·(1 − a), a
    weighted[6] = alpha
    sums = np.empty_like(weighted)
    pad = 2 * max(RADII) + 1
    scratch = np.empty((7, (height + pad) * (width + pad)), dtype=np.float32)
    foreground, background = image, image
    updated = np.empty_like(image)
    for radius in RADII:
        np.multiply(foreground, alpha, out=weighted[0:3])
        np.multiply(background, clear, out=weighted[3:6])
        _box_sums(weighted, radius, sums, scratch)
        f, b, inside = sums[0:3], sums[3:6], sums[6]
        outside = _window_sizes(alpha.shape, radius) - inside
        outside += EPS
        inside += EPS
        f /= inside
        b /= outside
        # this pass's foreground: clip(F + a·(I − a·F − (1 − a)·B), 0, 1)
        np.multiply(alpha, f, out=updated)
        np.subtract(image, updated, out=updated)
        updated -= np.multiply(clear, b, out=weighted[3:6])
        updated *= alpha
        updated += f
        foreground, background = np.clip(updated, 0, 1, out=updated), b
    return f, b


def _box_sums(x: np.ndarray, radius: int, out: np.ndarray, scratch: np.ndarray) -> None:
    """``_box_sum`` of each channel into ``out``, the first half of them on a worker."""
    half = x.shape[0] // 2
    first = _workers().submit(_box_sum, x[:half], radius, out[:half], scratch[:half])
    _box_sum(x[half:], radius, out[half:], scratch[half:])
    first.result()


def _box_sum(x: np.ndarray, radius: int, out: np.ndarray, scratch: np.ndarray) -> None:
    """Sum over the (2r+1)² window around each pixel of each channel ([c, h, w], zero
    outside) into ``out``: the normalisation cancels in blur fusion's ratios, so sums stand
    for means. Running totals over the input padded with ``radius`` zeros each side (in
    ``scratch``, [c, n] with n at least (h + 2r + 1)·(w + 2r + 1)), so every window is a
    difference of two slices."""
    channels, height, width = x.shape
    span = 2 * radius + 1
    total = scratch[:, : (height + span) * width].reshape(channels, height + span, width)
    total[:, : radius + 1] = 0
    total[:, radius + 1 : radius + 1 + height] = x
    total[:, radius + 1 + height :] = 0
    for row in range(radius + 2, radius + 1 + height + radius):  # numpy's cumsum is slow here
        total[:, row] += total[:, row - 1]
    np.subtract(total[:, span:], total[:, :height], out=out)
    total = scratch[:, : height * (width + span)].reshape(channels, height, width + span)
    total[:, :, : radius + 1] = 0
    total[:, :, radius + 1 : radius + 1 + width] = out
    total[:, :, radius + 1 + width :] = 0
    np.cumsum(total, axis=2, out=total)
    np.subtract(total[:, :, span:], total[:, :, :width], out=out)


def _window_sizes(shape: tuple[int, int], radius: int) -> np.ndarray:
    """How many pixels of the image each (2r+1)² window holds: the box sum of ones."""
    height, width = (
        np.minimum(np.arange(n) + radius, n - 1) - np.maximum(np.arange(n) - radius, 0) + 1
        for n in shape
    )
    return np.outer(height, width).astype(np.float32)
