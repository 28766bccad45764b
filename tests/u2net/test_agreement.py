"""The noise floor: how far fp32's own masks move under changes no viewer sees, and the bar
a faster variant is held to on each photo."""

from __future__ import annotations

import numpy as np
import pytest

from u2net.agreement import (
    INT8_BAR,
    NOISE_SEEDS,
    AgreementBar,
    Certified,
    MaskAgreement,
    NoiseFloor,
    PhotoBars,
    add_noise,
    compare_masks,
    floor_of,
    invisible_changes,
    jpeg_resave,
    noise_floor,
)


def _photo() -> np.ndarray:
    ramp = np.linspace(0, 255, 64, dtype=np.float32)
    return np.stack([np.add.outer(ramp, ramp) / 2] * 3, axis=-1).astype(np.uint8)


def test_noise_moves_each_value_by_at_most_one_grey_level_and_repeats_by_seed() -> None:
    photo = np.full((32, 32, 3), 128, dtype=np.uint8)
    noisy = add_noise(photo, seed=0)
    assert set(np.unique(noisy.astype(int) - 128)) == {-1, 0, 1}
    assert np.array_equal(noisy, add_noise(photo, seed=0))
    assert not np.array_equal(noisy, add_noise(photo, seed=1))
    black = add_noise(np.zeros((8, 8, 3), dtype=np.uint8), seed=0)
    assert black.dtype == np.uint8 and black.max() == 1  # clipped, never wrapped to 255


def test_a_jpeg_resave_is_close_but_not_identical() -> None:
    photo = _photo()
    resaved = jpeg_resave(photo)
    assert resaved.shape == photo.shape and resaved.dtype == np.uint8
    diff = np.abs(resaved.astype(int) - photo)
    assert 0 < diff.mean() < 3


def test_the_changes_are_the_noise_seeds_and_one_resave() -> None:
    assert len(invisible_changes(_photo())) == len(NOISE_SEEDS) + 1


def test_a_model_that_ignores_small_changes_has_a_perfect_floor() -> None:
    def coarse(image: np.ndarray) -> np.ndarray:  # a mask that only sees the top bits
        return np.where(image[..., 0] >= 128, 255, 0).astype(np.uint8)

    photo = np.zeros((32, 32, 3), dtype=np.uint8)
    photo[8:24, 8:24] = 200
    floor = noise_floor(coarse, photo, "square")
    assert (floor.name, floor.iou, floor.mean_abs_diff) == ("square", 1.0, 0.0)


def test_a_model_on_a_knife_edge_has_a_low_floor() -> None:
    def knife(image: np.ndarray) -> np.ndarray:  # foreground exactly at the photo's value
        return np.where(image[..., 0] >= 128, 255, 0).astype(np.uint8)

    photo = np.full((32, 32, 3), 128, dtype=np.uint8)  # ±1 flips about a third of it
    floor = noise_floor(knife, photo)
    assert floor.iou < 0.8 and floor.mean_abs_diff > 50


def test_the_floor_is_the_worst_iou_and_the_worst_mean_of_any_change() -> None:
    moved = [MaskAgreement("", 0.9, 1.0, 5), MaskAgreement("", 0.95, 3.0, 9)]
    assert floor_of(moved, "p") == NoiseFloor("p", 0.9, 3.0)
    with pytest.raises(ValueError, match="expected at least one"):
        floor_of([])


@pytest.mark.parametrize(
    ("floor", "bar"),
    [
        (NoiseFloor("steady", 0.999, 0.1), INT8_BAR),  # fp32 steadier than the cap: the cap
        (NoiseFloor("coins", 0.933, 6.29), AgreementBar(0.933, 6.29)),  # the floor
        (NoiseFloor("mixed", 0.97, 1.0), AgreementBar(0.97, INT8_BAR.max_mean_abs_diff)),
    ],
)
def test_the_bar_is_the_cap_loosened_to_the_floor(floor: NoiseFloor, bar: AgreementBar) -> None:
    assert floor.bar() == bar


def test_a_photo_passes_inside_its_floor_and_fails_outside() -> None:
    floor = NoiseFloor("coins.png", 0.933, 6.29)
    assert Certified(MaskAgreement("coins.png", 0.936, 4.44, 90), floor).passed
    assert not Certified(MaskAgreement("coins.png", 0.931, 4.44, 90), floor).passed
    assert not Certified(MaskAgreement("coins.png", 0.99, 6.5, 90), floor).passed


def test_photo_bars_judge_each_photo_by_its_own_floor() -> None:
    bars = PhotoBars.from_floors([NoiseFloor("a", 0.8, 5.0), NoiseFloor("b", 1.0, 0.0)])
    same = (0.85, 4.0)
    assert bars.passes(MaskAgreement("a", *same, 0))
    assert not bars.passes(MaskAgreement("b", *same, 0))
    assert bars.shortfall(MaskAgreement("a", *same, 0)) == 0
    assert bars.shortfall(MaskAgreement("b", *same, 0)) > 0


def test_identical_masks_agree_fully() -> None:
    mask = np.arange(256, dtype=np.uint8).reshape(16, 16)
    assert compare_masks(mask, mask) == MaskAgreement("", 1.0, 0.0, 0)
