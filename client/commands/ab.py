"""``python -m client ab``: two served models on the same photos under the same load, their
throughput and their masks' agreement, each photo beside A's own noise floor."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from client.args import LinkArgs
from client.inputs import image_paths
from client.load.ab import VARIANT_HEADERS, ABReport, run_ab, variant_rows
from u2net import cli as edge
from u2net.agreement import CERTIFIED_COLUMNS, INT8_BAR, certified_rows
from u2net.report import table, to_json

DEFAULT_REQUESTS = 20
AGREEMENT_HEADERS = ["images", "IoU@0.5 mean", "IoU@0.5 worst", "mean abs Δ", "max abs Δ"]
AGREEMENT_KEYS = ["images", "iou_mean", "iou_worst", "mean_abs_diff_mean", "max_abs_diff"]
LINK = LinkArgs(retries=False, reresolve=False)


def add(subparsers: object) -> None:
    ab = edge.add_subcommand(
        subparsers,
        "ab",
        "compare two served models on the same images and load",
        description="compare two served models on the same images and load: each gets the "
        "photos at its own input size (320² U²-Net, 1024² IS-Net); B's masks are compared "
        "with A's on A's grid, resized with LANCZOS where the sizes differ",
    )
    ab.add_argument(
        "model_a",
        metavar="MODEL_A",
        help="first model (A, the reference): a base, custom or served name, as cut's --model",
    )
    ab.add_argument(
        "model_b", metavar="MODEL_B", help="second model (B), of A's input size or another"
    )
    ab.add_argument("images", nargs="+", metavar="IMAGES", help="files or folders")
    ab.add_argument(
        "--requests",
        type=edge.positive_int,
        default=DEFAULT_REQUESTS,
        help="requests per variant, at least one per image",
    )
    ab.add_argument("--json", action="store_true", help="machine-readable output")
    ab.add_argument(
        "--no-floor",
        dest="floor",
        action="store_false",
        help="skip A's noise floor (A on each photo with ±1 grey level of noise, 3 seeds, and "
        "re-saved as JPEG q90: one more request to A per image, a batch of those 4 copies)",
    )
    LINK.add_to(ab)
    edge.add_verbosity(ab, quiet=False, subcommand=True)


def report_text(report: ABReport, concurrency: int) -> str:
    """The report as ``ab`` prints it: both variants, the agreement, the worst photos, each
    photo beside A's floor (when measured) and the verdict."""
    data = report.as_dict()
    a_name, b_name = report.a.model, report.b.model
    lines = [
        f"A/B at concurrency {concurrency}, {data['variants'][0]['requests']} requests "
        f"each, {len(report.agreements)} images",
        table(VARIANT_HEADERS, variant_rows(report)),
        f"\nagreement of {b_name} against {a_name} (masks at {report.compared_at()}):",
        table(AGREEMENT_HEADERS, [[data["agreement"][key] for key in AGREEMENT_KEYS]]),
    ]
    worst = ", ".join(
        f"{Path(m.name).name} (IoU {m.iou:.4f}, mean |Δ| {m.mean_abs_diff:.2f})"
        for m in report.worst()
    )
    lines.append(f"worst: {worst}")
    if report.floors is not None:
        lines.append(f"\nper image, beside {a_name}'s own noise floor there:")
        lines.append(table(list(CERTIFIED_COLUMNS), certified_rows(report.certified())))
    a, b = data["variants"]
    ratio = b["throughput_per_s"] / a["throughput_per_s"] if a["throughput_per_s"] else 0.0
    inside = data["agreement"]["inside_floor"]
    verdict = (
        f"; {inside}/{len(report.agreements)} images inside {a_name}'s noise floor "
        f"(IoU >= min({INT8_BAR.min_iou}, floor), mean |Δ| <= "
        f"max({INT8_BAR.max_mean_abs_diff:g}, floor))"
        if inside is not None
        else ""
    )
    lines.append(f"{b_name}: {ratio:.2f}x {a_name}'s throughput{verdict}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    link = LINK.parse(args)
    report = run_ab(
        link.url,
        args.model_a,
        args.model_b,
        image_paths(args.images),
        concurrency=link.concurrency,
        requests=args.requests,
        timeout_s=link.timeout_s,
        max_pixels=link.max_pixels,
        floor=args.floor,
    )
    print(to_json(report.as_dict()) if args.json else report_text(report, link.concurrency))
    for image, reason in report.skipped:
        print(f"skipped: {image}: {reason}", file=sys.stderr)
    return 0
