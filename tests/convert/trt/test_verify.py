"""The engine-vs-ONNX Runtime comparison maths, on synthetic masks (CPU only).

``compare_masks`` lives in u2net.agreement (shared with the A/B tool); these tests pin
the behaviour the engine verification relies on, at its thresholds.
"""

from __future__ import annotations

import numpy as np
import pytest

from convert.trt.verify import MAX_MEAN_ABS_DIFF, MIN_IOU, Verification, verify_batch
from u2net.agreement import MASK_THRESHOLD, MaskAgreement, compare_masks
from u2net.contract import CONTRACT

SHAPE = CONTRACT.output_dims


def _disc(radius: int, value: int = 255) -> np.ndarray:
    yy, xx = np.mgrid[: SHAPE[0], : SHAPE[1]]
    centre = SHAPE[0] // 2
    inside = (yy - centre) ** 2 + (xx - centre) ** 2 <= radius**2
    return np.where(inside, value, 0).astype(np.uint8)


def test_identical_masks_agree_perfectly() -> None:
    mask = _disc(100)
    got = compare_masks(mask, mask.copy())
    assert (got.iou, got.mean_abs_diff, got.max_abs_diff) == (1.0, 0.0, 0)
    assert got.passes(MIN_IOU, MAX_MEAN_ABS_DIFF)


def test_uint8_differences_do_not_wrap() -> None:
    ref = np.zeros(SHAPE, np.uint8)
    cand = np.full(SHAPE, 255, np.uint8)
    got = compare_masks(ref, cand)
    assert got.mean_abs_diff == 255.0
    assert got.max_abs_diff == 255
    assert got.iou == 0.0


def test_uniform_grey_offset_counts_in_mean_not_iou() -> None:
    ref = _disc(100)
    cand = np.clip(ref.astype(int) + 2, 0, 255).astype(np.uint8)  # background 0 -> 2
    got = compare_masks(ref, cand)
    assert got.iou == 1.0
    assert 0 < got.mean_abs_diff <= 2.0
    assert got.passes(MIN_IOU, MAX_MEAN_ABS_DIFF)
    worse = compare_masks(ref, np.clip(ref.astype(int) + 3, 0, 255).astype(np.uint8))
    assert worse.mean_abs_diff > MAX_MEAN_ABS_DIFF
    assert not worse.passes(MIN_IOU, MAX_MEAN_ABS_DIFF)


@pytest.mark.parametrize(("value", "foreground"), [(127, False), (128, True)])
def test_threshold_is_mask_at_least_128(value: int, foreground: bool) -> None:
    assert MASK_THRESHOLD == 128
    ref = np.full(SHAPE, 255, np.uint8)
    got = compare_masks(ref, np.full(SHAPE, value, np.uint8))
    assert got.iou == (1.0 if foreground else 0.0)


def test_iou_of_known_overlap() -> None:
    ref = np.zeros(SHAPE, np.uint8)
    cand = np.zeros(SHAPE, np.uint8)
    ref[:, :160] = 255  # left half
    cand[:, 80:240] = 255  # middle half: overlap is a quarter, union three quarters
    got = compare_masks(ref, cand)
    assert got.iou == pytest.approx(1 / 3)
    assert got.mean_abs_diff == pytest.approx(255 / 2)


def test_both_empty_is_perfect_agreement() -> None:
    empty = np.zeros(SHAPE, np.uint8)
    assert compare_masks(empty, empty).iou == 1.0


def test_a_thin_edge_shift_fails_iou_but_not_mean() -> None:
    ref = _disc(20)
    cand = _disc(22)  # a small disc grown by 2 px: IoU ~0.83, mean |Δ| ~1.3
    got = compare_masks(ref, cand)
    assert got.mean_abs_diff <= MAX_MEAN_ABS_DIFF
    assert got.iou < MIN_IOU
    assert not got.passes(MIN_IOU, MAX_MEAN_ABS_DIFF)


def test_shape_mismatch_is_an_error() -> None:
    with pytest.raises(ValueError, match="shapes differ"):
        compare_masks(np.zeros((2, 2), np.uint8), np.zeros((2, 3), np.uint8))


def test_verify_batch_passes_only_when_every_image_passes() -> None:
    ref = np.stack([_disc(100), _disc(50), np.zeros(SHAPE, np.uint8)])
    good = verify_batch(ref, ref.copy(), ["a", "b", "c"])
    assert good.passed
    assert [a.name for a in good.agreements] == ["a", "b", "c"]

    bad = ref.copy()
    bad[1] = _disc(40)
    result = verify_batch(ref, bad, ["a", "b", "c"])
    assert not result.passed
    assert result.worst.name == "b"
    assert "3 masks" in result.summary()
    assert result.as_dict()["passed"] is False
    assert result.as_dict()["masks"][1]["name"] == "b"


def test_empty_verification_never_passes() -> None:
    assert not Verification(()).passed


def test_verify_batch_checks_its_arguments() -> None:
    ref = np.zeros((2, *SHAPE), np.uint8)
    with pytest.raises(ValueError):
        verify_batch(ref, ref, ["only-one"])


def test_agreement_thresholds_are_inclusive() -> None:
    edge = MaskAgreement("edge", iou=MIN_IOU, mean_abs_diff=MAX_MEAN_ABS_DIFF, max_abs_diff=9)
    assert edge.passes(MIN_IOU, MAX_MEAN_ABS_DIFF)
