"""Run serving graphs in ONNX Runtime on photos: masks, agreement with fp32, interleaved speed."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import onnx

from u2net.agreement import MaskAgreement, compare_masks
from u2net.contract import CONTRACT, ServingContract
from u2net.repository.layout import INTRA_OP_THREADS_ENV
from u2net.values import parse_int


class Runner:
    """One ONNX Runtime CPU session over a serving graph (uint8 images in, uint8 masks out),
    with ``$U2NET_INTRA_OP_THREADS`` threads where set (as the server's sessions), else ONNX
    Runtime's default."""

    def __init__(self, model: onnx.ModelProto, contract: ServingContract = CONTRACT) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        threads = os.environ.get(INTRA_OP_THREADS_ENV, "").strip()
        options.intra_op_num_threads = parse_int(INTRA_OP_THREADS_ENV, threads, 0) if threads else 0
        self._session = ort.InferenceSession(
            model.SerializeToString(), options, providers=["CPUExecutionProvider"]
        )
        self._input = contract.input_name

    def mask(self, image: np.ndarray) -> np.ndarray:
        """One [H,W,3] image -> its [H,W] mask (a batch of one, as a raw-tensor request)."""
        return self._session.run(None, {self._input: image[None]})[0][0]

    def masks(self, images: np.ndarray) -> np.ndarray:
        return np.stack([self.mask(image) for image in images])


def agreements(
    reference: np.ndarray, candidate: np.ndarray, names: Sequence[str]
) -> list[MaskAgreement]:
    return [compare_masks(r, c, n) for r, c, n in zip(reference, candidate, names, strict=True)]


@dataclass(frozen=True)
class Speed:
    """Median seconds of one batch-of-one run each, measured in the same interleaved rounds."""

    reference_s: float
    candidate_s: float
    runs: int

    @property
    def speedup(self) -> float:
        return self.reference_s / self.candidate_s

    @classmethod
    def from_dict(cls, timing: dict) -> Speed:
        """:meth:`as_dict`'s form read back (a manifest's ``speed``)."""
        return cls(timing["fp32_ms"] / 1e3, timing["int8_ms"] / 1e3, timing["runs"])

    def as_dict(self) -> dict[str, float | int]:
        return {
            "fp32_ms": round(self.reference_s * 1e3, 1),
            "int8_ms": round(self.candidate_s * 1e3, 1),
            "speedup": round(self.speedup, 2),
            "runs": self.runs,
        }


def interleaved_runs(
    reference: Runner, candidate: Runner, images: np.ndarray, rounds: int
) -> tuple[np.ndarray, np.ndarray, Speed]:
    """Each image on one, then the other, ``rounds`` times (after one warm-up each): other
    work on the machine slows both alike, so the ratio holds while the times may not. Returns
    both runners' masks (the last round's) and the speed."""
    reference.mask(images[0])
    candidate.mask(images[0])
    times: tuple[list[float], list[float]] = ([], [])
    masks: tuple[list[np.ndarray], list[np.ndarray]] = ([], [])
    for _ in range(rounds):
        masks[0].clear()
        masks[1].clear()
        for image in images:
            for runner, kept, found in zip((reference, candidate), times, masks, strict=True):
                start = time.perf_counter()
                found.append(runner.mask(image))
                kept.append(time.perf_counter() - start)
    speed = Speed(statistics.median(times[0]), statistics.median(times[1]), len(times[0]))
    return np.stack(masks[0]), np.stack(masks[1]), speed
