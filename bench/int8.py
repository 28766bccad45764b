"""Speed against agreement of int8 U²-Net: the sets of fp32 blocks the search went through.

    python bench/int8.py --models u2netp,u2net --rounds 2

For each model, reuses what ``python -m convert quantize`` cached (the calibration and the
search; it runs them first when they are missing) and, for each set of blocks kept fp32 on
the search's path (none; the most sensitive block; the two most sensitive; ...; the set it
chose) and for int8 only where the feature maps are at most 160, 80 or 40 px a side,
builds that variant and measures, against the fp32 serving graph in ONNX Runtime:
agreement on the held-out photos (worst IoU at 0.5, worst mean |Δ| in grey levels, how many
photos meet the bar) and one raw-tensor request's time, interleaved with fp32's in the same
rounds (other work on the machine slows both alike). Prints a Markdown table
(docs/int8.md).
"""

from __future__ import annotations

import argparse
import logging
import platform
from pathlib import Path

from convert.quantize.body import U2NET_BLOCKS, blocks_above
from convert.quantize.measure import Runner, agreements, interleaved_speed
from convert.quantize.qdq import quantize
from convert.quantize.stage import find_int8
from u2net.agreement import INT8_BAR
from u2net.catalogue import parse_models
from u2net.repository import default_repository
from u2net.samples import HELD_OUT_PHOTOS, sample_inputs

RESOLUTIONS = (160, 80, 40)  # int8 only in blocks at most this many px a side
HEADER = (
    "| model | kept fp32 besides the head | held-out photos at the bar | worst IoU | "
    "worst mean abs diff | fp32 ms | int8 ms | speed-up |"
)


def path_of(sensitivity: tuple[tuple[str, float], ...], chosen: tuple[str, ...]) -> list:
    """The sets the search tried on its way: none, then the most sensitive blocks one more
    at a time until it held as many as it chose, then its (pruned) choice."""
    order = [block for block, _shortfall in sensitivity]
    sets: list[tuple[str, ...]] = [()]
    for k in range(1, len(chosen) + 1):
        sets.append(tuple(order[:k]))
    sets.append(chosen)
    sets += [blocks_above(px) for px in RESOLUTIONS]
    in_graph_order = [tuple(b for b in U2NET_BLOCKS if b in found) for found in sets]
    return list(dict.fromkeys(in_graph_order))  # one row per set


def bench(model_name: str, repository: Path, rounds: int) -> list[str]:
    (model,) = parse_models(model_name)
    fp32, layout, (cache, result) = find_int8(model, repository)
    names, images = sample_inputs(HELD_OUT_PHOTOS)
    reference = Runner(fp32)
    masks = reference.masks(images)
    rows = []
    for blocks in path_of(result.sensitivity, result.fp32_blocks):
        candidate = Runner(quantize(fp32, cache, layout.excluded_nodes(blocks)))
        found = agreements(masks, candidate.masks(images), names)
        speed = interleaved_speed(reference, candidate, images, rounds)
        passing = sum(INT8_BAR.passes(a) for a in found)
        rows.append(
            f"| {model.name} | {', '.join(blocks) or 'none'} | {passing}/{len(found)} | "
            f"{min(a.iou for a in found):.4f} | {max(a.mean_abs_diff for a in found):.2f} | "
            f"{speed.reference_s * 1e3:.0f} | {speed.candidate_s * 1e3:.0f} | "
            f"{speed.speedup:.2f}x |"
        )
        print(rows[-1], flush=True)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="u2netp,u2net")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds per set")
    parser.add_argument("--model-repository", type=Path, default=default_repository())
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    print(f"{platform.processor() or platform.machine()}, held out: {', '.join(HELD_OUT_PHOTOS)}")
    print(HEADER)
    print("|---|---|---|---|---|---|---|---|")
    for name in args.models.split(","):
        bench(name.strip(), args.model_repository, args.rounds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
