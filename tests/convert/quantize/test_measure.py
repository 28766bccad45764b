"""Interleaved runs: the masks certification compares are the ones it timed, and fp32 and
the candidate take turns on each image."""

from __future__ import annotations

import numpy as np

from convert.quantize.measure import interleaved_runs


class _Recording:
    def __init__(self, name: str, order: list[str], offset: int) -> None:
        self.name, self.order, self.offset = name, order, offset

    def mask(self, image: np.ndarray) -> np.ndarray:
        self.order.append(self.name)
        return image[..., 0] + self.offset


def test_each_image_runs_on_both_in_turn_and_the_masks_are_the_last_round_s() -> None:
    order: list[str] = []
    images = np.arange(3 * 2 * 2 * 3, dtype=np.uint8).reshape(3, 2, 2, 3)
    a, b = _Recording("a", order, 0), _Recording("b", order, 1)
    masks_a, masks_b, speed = interleaved_runs(a, b, images, rounds=2)  # type: ignore[arg-type]
    assert order == ["a", "b"] + ["a", "b"] * 6  # a warm-up each, then 2 rounds of 3 images
    assert np.array_equal(masks_a, images[..., 0]) and np.array_equal(masks_b, masks_a + 1)
    assert speed.runs == 6
