"""How far one mask is from another: IoU at 0.5 and |Δ| in grey levels (pure numpy)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MASK_THRESHOLD = 128  # foreground: mask >= 128, i.e. >= 0.5 on rembg's 0..255 scale


@dataclass(frozen=True)
class MaskAgreement:
    """How one candidate mask compares to its reference."""

    name: str
    iou: float
    mean_abs_diff: float
    max_abs_diff: int

    def passes(self, min_iou: float, max_mean: float) -> bool:
        return self.iou >= min_iou and self.mean_abs_diff <= max_mean


def compare_masks(
    reference: np.ndarray, candidate: np.ndarray, name: str = "", threshold: int = MASK_THRESHOLD
) -> MaskAgreement:
    """IoU of the thresholded masks and mean/max |Δ| in grey levels, for one [H,W] pair.

    Two empty foregrounds agree perfectly (IoU 1.0).
    """
    if reference.shape != candidate.shape:
        raise ValueError(f"mask shapes differ: {reference.shape} vs {candidate.shape}")
    ref = reference.astype(np.int16)
    cand = candidate.astype(np.int16)
    fg_ref, fg_cand = ref >= threshold, cand >= threshold
    union = int(np.count_nonzero(fg_ref | fg_cand))
    inter = int(np.count_nonzero(fg_ref & fg_cand))
    diff = np.abs(ref - cand)
    return MaskAgreement(
        name=name,
        iou=1.0 if union == 0 else inter / union,
        mean_abs_diff=float(diff.mean()),
        max_abs_diff=int(diff.max(initial=0)),
    )


@dataclass(frozen=True)
class AgreementBar:
    """What a faster variant must reach against its fp32 reference, on every photo."""

    min_iou: float
    max_mean_abs_diff: float

    def shortfall(self, agreement: MaskAgreement) -> float:
        """0 when ``agreement`` meets the bar; else how far it misses, in bar-sized units
        (0.01 of IoU below 0.99 counts as much as 2 grey levels above 2)."""
        iou_gap = max(0.0, self.min_iou - agreement.iou) / (1.0 - self.min_iou)
        diff_gap = max(0.0, agreement.mean_abs_diff - self.max_mean_abs_diff)
        return iou_gap + diff_gap / self.max_mean_abs_diff

    def passes(self, agreement: MaskAgreement) -> bool:
        return agreement.passes(self.min_iou, self.max_mean_abs_diff)


# an int8 variant against fp32 (issue 18): per photo IoU >= 0.99 and mean |Δ| <= 2 grey levels,
# and one raw-tensor request at least 1.6x faster
INT8_BAR = AgreementBar(min_iou=0.99, max_mean_abs_diff=2.0)
INT8_MIN_SPEEDUP = 1.6
