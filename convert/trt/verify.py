"""Does an engine's mask agree with ONNX Runtime's? Pure maths plus the CPU reference.

The per-mask maths (IoU at 0.5, |Δ|) is ``u2net.agreement.compare_masks``, numpy in,
numbers out, shared with the client's A/B tool; the reference runs the same staged
serving ONNX on ONNX Runtime's CPU provider, on real photos.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from convert.errors import EngineBuildError, InvalidModel
from u2net.agreement import MaskAgreement, compare_masks
from u2net.contract import CONTRACT, ServingContract
from u2net.samples import sample_inputs

log = logging.getLogger(__name__)

MIN_IOU = 0.99
MAX_MEAN_ABS_DIFF = 2.0  # grey levels


@dataclass(frozen=True)
class Verification:
    """All comparisons of one engine run against the reference."""

    agreements: tuple[MaskAgreement, ...]
    min_iou: float = MIN_IOU
    max_mean_abs_diff: float = MAX_MEAN_ABS_DIFF

    @property
    def passed(self) -> bool:
        return bool(self.agreements) and all(
            a.passes(self.min_iou, self.max_mean_abs_diff) for a in self.agreements
        )

    @property
    def worst(self) -> MaskAgreement:
        return min(self.agreements, key=lambda a: (a.iou, -a.mean_abs_diff))

    def summary(self) -> str:
        if not self.agreements:
            return "no masks compared"
        worst_iou = min(a.iou for a in self.agreements)
        worst_mean = max(a.mean_abs_diff for a in self.agreements)
        return (
            f"{len(self.agreements)} masks: min IoU {worst_iou:.4f} (need >= {self.min_iou}), "
            f"max mean |Δ| {worst_mean:.2f} grey levels (need <= {self.max_mean_abs_diff})"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "min_iou": self.min_iou,
            "max_mean_abs_diff": self.max_mean_abs_diff,
            "masks": [asdict(a) for a in self.agreements],
        }


def verify_batch(
    reference: np.ndarray, candidate: np.ndarray, names: list[str] | tuple[str, ...]
) -> Verification:
    """Compare [N,H,W] mask batches image by image."""
    if reference.shape != candidate.shape or len(names) != reference.shape[0]:
        raise ValueError(
            f"batch shapes differ: {reference.shape} vs {candidate.shape} for {len(names)} names"
        )
    return Verification(
        tuple(compare_masks(r, c, n) for r, c, n in zip(reference, candidate, names, strict=True))
    )


def sample_batch(contract: ServingContract = CONTRACT) -> tuple[list[str], np.ndarray]:
    """Real photos as the contract's input: RGB, LANCZOS-resized, uint8 [N,H,W,C]."""
    return sample_inputs(contract=contract)


def onnx_reference(
    onnx_path: Path, batch: np.ndarray, contract: ServingContract = CONTRACT
) -> np.ndarray:
    """The staged serving ONNX run on ONNX Runtime's CPU provider: the verification reference.

    One image per run, so its memory is one image's whatever the batch and the family (an
    IS-Net image at 1024² holds about 0.3 GB of activations in fp32; sixteen at once would
    not fit a small host)."""
    try:
        import onnxruntime as ort
    except ImportError as e:
        raise EngineBuildError(
            "verification needs onnxruntime as the reference; `pip install onnxruntime`"
        ) from e
    try:
        session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    except Exception as e:  # ORT's errors are not a documented hierarchy; re-raised
        raise InvalidModel(f"ONNX Runtime cannot load {onnx_path}: {e}") from e
    masks = [
        session.run([contract.output_name], {contract.input_name: batch[i : i + 1]})[0]
        for i in range(len(batch))
    ]
    return np.concatenate(masks) if masks else np.asarray(masks)
