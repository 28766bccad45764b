"""The int8 frontier: speed against agreement for each way of keeping parts of U²-Net fp32.

    .venv/bin/python bench/int8.py                         # u2net, every candidate
    .venv/bin/python bench/int8.py --models u2netp --rounds 3

Each candidate is a recipe (``convert/quantize/recipe.py``): blocks kept fp32, nodes given
back to int8 or kept fp32 alone, convs split by concat branch. Each is built from the
calibration ranges of the committed recipe (a candidate that splits convs is calibrated
again, on the same photos), then certified as ``python -m convert`` certifies: on every
held-out photo, its mask against fp32's beside fp32's own noise floor there, and one raw
request's time interleaved with fp32's. Prints a Markdown table (docs/int8.md).
"""

from __future__ import annotations

import argparse
import logging
import platform
from dataclasses import dataclass
from pathlib import Path

from convert.quantize.body import body_layout
from convert.quantize.certify import certify, floors
from convert.quantize.measure import Runner
from convert.quantize.qdq import calibrate, quantize
from convert.quantize.recipe import Recipe, ranges_path, read_recipe
from convert.quantize.split import split_concat_convs
from convert.quantize.stage import excluded_nodes, fp32_graph
from u2net.agreement import compare_masks
from u2net.catalogue import parse_models
from u2net.cli import positive_int
from u2net.samples import CALIBRATION_PHOTOS, HELD_OUT_PHOTOS, sample_inputs, sample_rgb

BIG_DECODER_CONVS = ("Conv_680", "Conv_682", "Conv_810", "Conv_812", "Conv_942")  # u2net
SIDE_ADDS = ("Add_434", "Add_474", "Add_554", "Add_659", "Add_789", "Add_944")  # u2net


@dataclass(frozen=True)
class Candidate:
    label: str
    fp32_blocks: tuple[str, ...] = ()
    fp32_nodes: tuple[str, ...] = ()
    int8_nodes: tuple[str, ...] = ()
    split_convs: tuple[str, ...] = ()


def _with_relus(convs: tuple[str, ...]) -> tuple[str, ...]:
    """Each conv of u2net's decoder with the Relu after it (they are numbered one apart)."""
    return tuple(n for c in convs for n in (c, f"Relu_{int(c.split('_')[1]) + 1}"))


CANDIDATES = {
    "u2net": (
        Candidate("everything int8 but the head"),
        Candidate("blocks stage2d, stage1d", ("stage2d", "stage1d")),
        Candidate(
            "nodes Conv_787, Conv_920, the six Adds feeding side outputs, Conv_0",
            fp32_nodes=("Conv_787", "Conv_920", *SIDE_ADDS, "Conv_0"),
        ),
        Candidate(
            "blocks stage2d, stage1d but their five costliest convs",
            ("stage2d", "stage1d"),
            int8_nodes=_with_relus(BIG_DECODER_CONVS),
        ),
        Candidate(
            "the same, Conv_680, Conv_810, Conv_942 split by concat branch",
            ("stage2d", "stage1d"),
            int8_nodes=_with_relus(BIG_DECODER_CONVS),
            split_convs=("Conv_680", "Conv_810", "Conv_942"),
        ),
        Candidate(
            "splitting Conv_787, Conv_920 instead of keeping them",
            split_convs=("Conv_787", "Conv_920"),
        ),
    ),
    "u2netp": (
        Candidate("everything int8 but the head"),
        Candidate("block stage2d", ("stage2d",)),
        Candidate("blocks stage2d, stage1d", ("stage2d", "stage1d")),
    ),
}


def _ranges(model_name: str, graph, candidate: Candidate, work: Path) -> Path:
    """The committed recipe's ranges, or the split graph calibrated on the same photos."""
    if not candidate.split_convs and ranges_path(model_name).is_file():
        return ranges_path(model_name)
    cache = work / f"{model_name}-{'-'.join(candidate.split_convs) or 'plain'}.json"
    calibrate(graph, sample_inputs(CALIBRATION_PHOTOS)[1], cache)
    return cache


def bench(model_name: str, rounds: int, work: Path) -> None:
    (model,) = parse_models(model_name)
    fp32 = fp32_graph(model)
    reference = Runner(fp32)
    layout = body_layout(fp32)  # split convs are meant for int8: named as before the split
    names, photos = list(HELD_OUT_PHOTOS), sample_rgb(HELD_OUT_PHOTOS)
    known = floors(reference, names, photos)
    committed = read_recipe(model.name)
    found = list(CANDIDATES.get(model.name, ()))
    if committed is not None:
        c = committed
        found.append(Candidate("the committed recipe", c.fp32_blocks, c.fp32_nodes,
                               c.int8_nodes, c.split_convs))  # fmt: skip
    for candidate in found:
        graph = split_concat_convs(fp32, candidate.split_convs) if candidate.split_convs else fp32
        recipe = Recipe(model=model.name, source_md5=model.md5, graph_version=0,
                        fp32_blocks=candidate.fp32_blocks, fp32_nodes=candidate.fp32_nodes,
                        int8_nodes=candidate.int8_nodes)  # fmt: skip
        cache = _ranges(model.name, graph, candidate, work)
        int8 = Runner(quantize(graph, cache, excluded_nodes(layout, recipe)))
        proof = certify(reference, int8, names, photos, rounds=rounds, known_floors=known)
        worst = min(proof.photos, key=lambda c: c.agreement.iou - c.floor.bar().min_iou)
        speed, bar = proof.speed, worst.floor.bar().min_iou
        print(
            f"| {model.name} | {candidate.label} | {proof.inside}/{len(proof.photos)} | "
            f"{worst.agreement.name} {worst.agreement.iou:.3f} (bar {bar:.3f}) | "
            f"{speed.reference_s * 1e3:.0f} | {speed.candidate_s * 1e3:.0f} | "
            f"{speed.speedup:.2f}x |",
            flush=True,
        )


def closeness() -> None:
    """On each held-out photo: u2net_int8 (the committed recipe) and fp32 u2netp, each
    against fp32 u2net: is the int8 variant closer to u2net than rembg's fast model is?"""
    u2net, u2netp = (fp32_graph(m) for m in parse_models("u2net,u2netp"))
    recipe = read_recipe("u2net")
    if recipe is None:
        return
    excluded = excluded_nodes(body_layout(u2net), recipe)
    int8 = Runner(quantize(u2net, ranges_path("u2net"), excluded))
    names, images = sample_inputs(HELD_OUT_PHOTOS)
    reference = Runner(u2net).masks(images)
    print("\n| photo | u2net_int8 against u2net: IoU / mean abs diff | u2netp against u2net |")
    print("|---|---:|---:|")
    for name, ref, a, b in zip(
        names, reference, int8.masks(images), Runner(u2netp).masks(images), strict=True
    ):
        x, y = compare_masks(ref, a), compare_masks(ref, b)
        cells = [f"{m.iou:.3f} / {m.mean_abs_diff:.2f}" for m in (x, y)]
        print(f"| {name} | {' | '.join(cells)} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="u2net")
    parser.add_argument(
        "--rounds", type=positive_int, default=3, help="interleaved rounds per candidate"
    )
    parser.add_argument("--closeness", action="store_true", help="only the u2netp comparison")
    parser.add_argument("--work", type=Path, default=Path("/tmp/u2net-int8-bench"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    args.work.mkdir(parents=True, exist_ok=True)
    if args.closeness:
        closeness()
        return 0
    print(f"{platform.processor() or platform.machine()}, held out: {', '.join(HELD_OUT_PHOTOS)}")
    print("| model | kept fp32 besides the head | inside the floor | closest photo: IoU (its bar) "
          "| fp32 ms | int8 ms | speed-up |")  # fmt: skip
    print("|---|---|---|---|---:|---:|---:|")
    for name in args.models.split(","):
        bench(name.strip(), args.rounds, args.work)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
