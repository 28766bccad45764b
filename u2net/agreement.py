"""How far one mask is from another (IoU at 0.5, |Δ| in grey levels), and how far the model's
own masks move under changes no viewer sees: the noise floor a faster variant is judged
against (pure: numpy and PIL in memory)."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

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


def difference(reference: np.ndarray, candidate: np.ndarray) -> np.ndarray:
    """|Δ| per pixel in grey levels (uint8 [H,W]): where two masks disagree, and by how much,
    the same difference :func:`compare_masks` averages."""
    if reference.shape != candidate.shape:
        raise ValueError(f"mask shapes differ: {reference.shape} vs {candidate.shape}")
    return np.abs(reference.astype(np.int16) - candidate.astype(np.int16)).astype(np.uint8)


@dataclass(frozen=True)
class AgreementBar:
    """What a faster variant must reach against its fp32 reference on a photo (one bar for
    all photos, or each photo's from fp32's floor there: :meth:`NoiseFloor.bar`)."""

    min_iou: float
    max_mean_abs_diff: float

    def shortfall(self, agreement: MaskAgreement) -> float:
        """0 when ``agreement`` meets the bar; else how far it misses, in bar-sized units
        (with the cap's bar, 0.01 of IoU below 0.99 counts as much as 2 grey levels above 2)."""
        iou_gap = max(0.0, self.min_iou - agreement.iou) / (1.0 - self.min_iou)
        diff_gap = max(0.0, agreement.mean_abs_diff - self.max_mean_abs_diff)
        return iou_gap + diff_gap / self.max_mean_abs_diff

    def passes(self, agreement: MaskAgreement) -> bool:
        return agreement.passes(self.min_iou, self.max_mean_abs_diff)


# an int8 variant against fp32: per photo IoU >= 0.99 and mean |Δ| <= 2 grey levels, unless
# fp32 against itself under invisible changes (the photo's noise floor) does worse, and one
# raw-tensor request at least 1.7x faster
INT8_BAR = AgreementBar(min_iou=0.99, max_mean_abs_diff=2.0)
INT8_MIN_SPEEDUP = 1.7

# the invisible changes: uniform noise of ±1 grey level (worst of these seeds) and a JPEG re-save
NOISE_GREY_LEVELS = 1
NOISE_SEEDS = (0, 1, 2)
JPEG_QUALITY = 90


def add_noise(image: np.ndarray, seed: int, levels: int = NOISE_GREY_LEVELS) -> np.ndarray:
    """``image`` (uint8) plus uniform integer noise in -levels..levels, clipped to 0..255."""
    noise = np.random.default_rng(seed).integers(-levels, levels + 1, size=image.shape)
    return np.clip(image.astype(np.int16) + noise, 0, 255).astype(np.uint8)


def jpeg_resave(image: np.ndarray, quality: int = JPEG_QUALITY) -> np.ndarray:
    """``image`` (uint8 RGB) written as a JPEG of ``quality`` and read back."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return np.asarray(decoded.convert("RGB"))


def invisible_changes(image: np.ndarray) -> list[np.ndarray]:
    """The copies of one model input (uint8 [H,W,3]) a viewer cannot tell apart from it."""
    return [*(add_noise(image, seed) for seed in NOISE_SEEDS), jpeg_resave(image)]


@dataclass(frozen=True)
class NoiseFloor:
    """fp32 against itself on one photo: the worst IoU and the worst mean |Δ| over the
    invisible changes (each may come from a different change)."""

    name: str
    iou: float
    mean_abs_diff: float

    def bar(self, cap: AgreementBar = INT8_BAR) -> AgreementBar:
        """What a variant must reach on this photo: ``cap``, loosened to the floor where fp32
        cannot meet ``cap`` against itself."""
        return AgreementBar(
            min_iou=min(cap.min_iou, self.iou),
            max_mean_abs_diff=max(cap.max_mean_abs_diff, self.mean_abs_diff),
        )


MaskOf = Callable[[np.ndarray], np.ndarray]


def noise_floor(
    mask_of: MaskOf, image: np.ndarray, name: str = "", reference: np.ndarray | None = None
) -> NoiseFloor:
    """The floor of the model ``mask_of`` (one uint8 [H,W,3] input -> its [H,W] mask) on
    ``image`` (``reference``: its mask there, when the caller has it)."""
    reference = mask_of(image) if reference is None else reference
    moved = [compare_masks(reference, mask_of(changed)) for changed in invisible_changes(image)]
    return floor_of(moved, name)


def floor_of(moved: Sequence[MaskAgreement], name: str = "") -> NoiseFloor:
    """The floor from fp32's agreement with itself under each invisible change."""
    if not moved:
        raise ValueError("expected at least one changed copy's agreement, got none")
    return NoiseFloor(name, min(m.iou for m in moved), max(m.mean_abs_diff for m in moved))


@dataclass(frozen=True)
class Certified:
    """One photo's verdict: the variant's agreement with fp32 against fp32's own floor."""

    agreement: MaskAgreement
    floor: NoiseFloor

    @property
    def passed(self) -> bool:
        return self.floor.bar().passes(self.agreement)

    def as_dict(self) -> dict[str, object]:
        """The agreement's fields, the floor's (unrounded: read back, the verdict is the
        same) and the verdict: how manifests and ``client ab --json`` record one photo."""
        return {
            **asdict(self.agreement),
            "floor_iou": self.floor.iou,
            "floor_mean_abs_diff": self.floor.mean_abs_diff,
            "inside_floor": self.passed,
        }


@dataclass(frozen=True)
class PhotoBars:
    """A bar per photo (looked up by the agreement's name), each from fp32's floor there: the
    same two questions as :class:`AgreementBar`, asked photo by photo."""

    bars: dict[str, AgreementBar]

    @classmethod
    def from_floors(cls, floors: Sequence[NoiseFloor], cap: AgreementBar = INT8_BAR) -> PhotoBars:
        return cls({f.name: f.bar(cap) for f in floors})

    def passes(self, agreement: MaskAgreement) -> bool:
        return self.bars[agreement.name].passes(agreement)

    def shortfall(self, agreement: MaskAgreement) -> float:
        return self.bars[agreement.name].shortfall(agreement)


# one table of a variant against its reference, per photo (`client ab`, `convert quantize`)
CERTIFIED_COLUMNS = ("photo", "IoU", "floor IoU", "mean |Δ|", "floor mean |Δ|", "inside")


def certified_rows(found: Sequence[Certified]) -> list[list[str]]:
    """Each photo's agreement beside the floor, as ``CERTIFIED_COLUMNS``."""
    return [
        [
            Path(c.agreement.name).name,
            f"{c.agreement.iou:.4f}",
            f"{c.floor.iou:.4f}",
            f"{c.agreement.mean_abs_diff:.2f}",
            f"{c.floor.mean_abs_diff:.2f}",
            "yes" if c.passed else "NO",
        ]
        for c in found
    ]
