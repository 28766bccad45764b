"""Temporal smoothing of masks: small arrays, no server."""

from __future__ import annotations

import numpy as np
import pytest

from client.smoothing import MaskSmoother


def test_each_mask_is_the_rounded_mean_of_the_last_window() -> None:
    smoother = MaskSmoother(3)
    pushed = [0, 255, 100, 1, 2]
    got = [int(smoother.push(np.full((2, 2), v, np.uint8))[0, 0]) for v in pushed]
    # 0; (0+255)/2; (0+255+100)/3; (255+100+1)/3; (100+1+2)/3, rounded half up
    assert got == [0, 128, 118, 119, 34]


def test_a_one_frame_window_changes_nothing() -> None:
    mask = np.arange(6, dtype=np.uint8).reshape(2, 3)
    assert MaskSmoother(1).push(mask) is mask


def test_a_window_below_one_frame_is_refused() -> None:
    with pytest.raises(ValueError, match="expected a window of at least 1 frame, got 0"):
        MaskSmoother(0)
