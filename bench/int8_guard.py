"""Does a cheap signal flag the photos where u2net_int8 leaves fp32's noise floor?

    .venv/bin/python bench/int8_guard.py

On every photo of scikit-image's folder that Pillow reads (the calibration photos and the
held-out ones), u2net_int8 from the committed recipe against fp32 u2net, beside fp32's own
noise floor there (as ``python -m convert quantize`` certifies), and signals a server could
read from the int8 run alone, without running fp32:

- ``fg``: the foreground's share of the 320² mask (mask >= 128);
- ``soft``: the share of undecided pixels (16 <= mask < 240), and ``soft/fg``;
- ``side``: how far the network's finest side output (``side1``, the input of its last
  concat) is from its fused mask: 1 − IoU at 0.5 of the two.

A signal works when a threshold on it flags every photo outside the floor and few inside.
Prints a Markdown table (docs/int8.md, "A guard for photos outside the floor").
"""

from __future__ import annotations

import argparse
import logging
import platform
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

from convert.quantize.certify import model_input
from convert.quantize.measure import Runner
from convert.quantize.recipe import read_recipe
from convert.quantize.stage import build_int8
from u2net.agreement import MASK_THRESHOLD, Certified, compare_masks, noise_floor
from u2net.catalogue import parse_models
from u2net.contract import CONTRACT
from u2net.samples import CALIBRATION_PHOTOS, HELD_OUT_PHOTOS, sample_rgb

SIDE1 = "1856"  # u2net's side1 conv output (pre-sigmoid, full 320²): Concat_1046's first input
SOFT = (16, 240)  # undecided grey levels: from 16 up to, not including, 240


@dataclass(frozen=True)
class Signals:
    fg: float
    soft: float
    side: float

    @property
    def soft_per_fg(self) -> float:
        return self.soft / max(self.fg, 1e-6)


class SideRunner:
    """An int8 serving graph with side1 as a second output: the mask and side1's mask."""

    def __init__(self, model: onnx.ModelProto) -> None:
        model = onnx.ModelProto.FromString(model.SerializeToString())
        model.graph.output.append(
            onnx.helper.make_tensor_value_info(SIDE1, onnx.TensorProto.FLOAT, None)
        )
        self._session = ort.InferenceSession(
            model.SerializeToString(), providers=["CPUExecutionProvider"]
        )

    def run(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mask, side = self._session.run(None, {CONTRACT.input_name: image[None]})
        side_mask = (255 / (1 + np.exp(-side[0, 0]))).astype(np.uint8)
        return mask[0], side_mask


def signals(mask: np.ndarray, side: np.ndarray) -> Signals:
    fg = float(np.mean(mask >= MASK_THRESHOLD))
    soft = float(np.mean((mask >= SOFT[0]) & (mask < SOFT[1])))
    return Signals(fg, soft, 1 - compare_masks(mask, side).iou)


def study(work: Path) -> None:
    (model,) = parse_models("u2net")
    recipe = read_recipe(model.name)
    if recipe is None:
        raise SystemExit("no committed u2net recipe (convert/quantize/recipes/u2net.json)")
    build = build_int8(model, recipe, work)
    fp32 = Runner(build.fp32)
    int8 = SideRunner(build.int8)

    def fp32_mask(photo: np.ndarray) -> np.ndarray:
        return fp32.mask(model_input(photo))

    print(f"\n{platform.processor() or platform.machine()}, onnxruntime {ort.__version__}")
    print("\n| photo | set | IoU / floor | inside | fg | soft | soft/fg | side |")
    print("|---|---|---:|:---:|---:|---:|---:|---:|")
    sets = [("calibration", CALIBRATION_PHOTOS), ("held-out", HELD_OUT_PHOTOS)]
    for label, names in sets:
        for name, photo in zip(names, sample_rgb(names), strict=True):
            reference = fp32_mask(photo)
            mask, side = int8.run(model_input(photo))
            verdict = Certified(
                compare_masks(reference, mask, name),
                noise_floor(fp32_mask, photo, name, reference),
            )
            s = signals(mask, side)
            print(
                f"| {name} | {label} | {verdict.agreement.iou:.3f} / {verdict.floor.iou:.3f} | "
                f"{'yes' if verdict.passed else '**no**'} | {s.fg:.3f} | {s.soft:.3f} | "
                f"{s.soft_per_fg:.2f} | {s.side:.3f} |",
                flush=True,
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/u2net-int8-guard"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    args.work.mkdir(parents=True, exist_ok=True)
    study(args.work)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
