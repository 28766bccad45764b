"""Temporal smoothing of a video's masks: each frame's model-sized mask averaged with those
of the frames just before it (``frames --smooth N``), so that a mask does not flicker from
one frame to the next. Causal: a frame never waits for later ones."""

from __future__ import annotations

from collections import deque

import numpy as np


class MaskSmoother:
    """The mean of the last ``window`` masks, fed in frame order (window 1: no smoothing)."""

    def __init__(self, window: int) -> None:
        if window < 1:
            raise ValueError(f"expected a window of at least 1 frame, got {window}")
        self.window = window
        self.recent: deque[np.ndarray] = deque(maxlen=window)

    def push(self, mask: np.ndarray) -> np.ndarray:
        """This frame's mask, smoothed with the ones pushed before it."""
        if self.window == 1:
            return mask
        self.recent.append(mask.astype(np.uint16))
        total = np.sum(self.recent, axis=0, dtype=np.uint32)
        return ((total + len(self.recent) // 2) // len(self.recent)).astype(np.uint8)
