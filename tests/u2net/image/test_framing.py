"""The foreground's box, cropping to it and the pixel budget (pure PIL)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from u2net.image.framing import (
    EMPTY_BOX,
    FOREGROUND_MIN_ALPHA,
    crop_to_box,
    foreground_box,
    limit_pixels,
)


def _mask(width: int = 100, height: int = 80, box: tuple = (10, 20, 30, 40)) -> Image.Image:
    left, top, w, h = box
    mask = np.zeros((height, width), dtype=np.uint8)
    mask[top : top + h, left : left + w] = 255
    mask[0, 0] = FOREGROUND_MIN_ALPHA  # faint noise at the threshold is not foreground
    return Image.fromarray(mask, mode="L")


def test_box_is_the_smallest_one_around_the_foreground() -> None:
    assert foreground_box(_mask()) == (10, 20, 30, 40)


def test_no_foreground_is_an_empty_box_and_cropping_keeps_the_image() -> None:
    empty = Image.new("L", (50, 40))
    assert foreground_box(empty) == EMPTY_BOX
    kept, box = crop_to_box(empty, EMPTY_BOX, margin=5)
    assert kept.size == (50, 40) and box == EMPTY_BOX


@pytest.mark.parametrize(
    ("margin", "size", "box"),
    [
        (0, (30, 40), (0, 0, 30, 40)),
        (5, (40, 50), (5, 5, 30, 40)),
        (50, (90, 80), (10, 20, 30, 40)),
    ],
    ids=["tight", "margin", "clamped-at-the-edges"],
)
def test_crop_moves_the_box_with_it(margin: int, size: tuple, box: tuple) -> None:
    mask = _mask()
    cropped, moved = crop_to_box(mask, foreground_box(mask), margin)
    assert cropped.size == size and moved == box
    left, top, width, height = moved
    assert np.asarray(cropped)[top : top + height, left : left + width].min() == 255


@pytest.mark.parametrize(
    ("budget", "size", "box"),
    [
        (2000, (50, 40), (5, 10, 15, 20)),
        (7999, (99, 79), (10, 20, 30, 40)),
        (8000, (100, 80), (10, 20, 30, 40)),
        (10**6, (100, 80), (10, 20, 30, 40)),
    ],
    ids=["quarter", "just-under", "exactly", "far-under"],
)
def test_pixel_budget_keeps_aspect_and_scales_the_box(budget: int, size: tuple, box: tuple) -> None:
    image, scaled = limit_pixels(_mask(), (10, 20, 30, 40), budget)
    assert image.size == size and image.width * image.height <= budget
    assert scaled == box
