"""``python -m client``: cut photos through Triton; compare and load-test served models."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from tqdm import tqdm

from client.ab import VARIANT_HEADERS, load_inputs, run_ab, variant_rows
from client.batch import run_jobs
from client.bench import HEADERS, MODES, sweep
from client.cli_support import run_handler, setup_logging
from client.cutter import DEFAULT_CONCURRENCY, Cutter
from client.imaging import (
    DEFAULT_MAX_PIXELS,
    DEFAULT_PNG_COMPRESSION,
    FORMATS,
    OutputOptions,
    parse_color,
)
from client.inputs import UsageError, expand, output_format, plan
from client.matting import MattingOptions
from client.report import table, to_csv, to_json
from client.triton import DEFAULT_MODEL, DEFAULT_TIMEOUT_S, URL_ENV, RetryPolicy, default_url
from convert.samples import sample_photos

log = logging.getLogger("client")


def _color(text: str) -> tuple[int, int, int, int]:
    try:
        return parse_color(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from e


def _byte(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 255:
        raise argparse.ArgumentTypeError(f"expected 0..255, got {text}")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number ≥ 1, got {text}")
    return value


def _int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected numbers ≥ 1 like 1,2,4, got {text!r}")
    return values


def _add_server_args(p: argparse.ArgumentParser, concurrency: bool = True) -> None:
    p.add_argument(
        "--url",
        default=default_url(),
        help=f"Triton gRPC address (default: ${URL_ENV} or localhost:8001)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        help="seconds per request (default: %(default)s)",
    )
    if concurrency:
        p.add_argument(
            "--concurrency",
            type=_positive,
            default=DEFAULT_CONCURRENCY,
            help="requests in flight (default: %(default)s)",
        )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar, errors only")
    p.add_argument("-v", "--verbose", action="store_true")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m client", description="Background removal through Triton."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    cut = sub.add_parser("cut", help="cut the subject out of photos")
    cut.add_argument("inputs", nargs="+", metavar="INPUT", help="files, folders or globs")
    cut.add_argument(
        "-o",
        "--output",
        type=Path,
        help="output file (one input) or folder (several; paths are mirrored)",
    )
    cut.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help="u2net, u2netp (picks _trt if ready, else _onnx) or a served name",
    )
    cut.add_argument("--only-mask", action="store_true", help="write the grey mask")
    cut.add_argument(
        "-ppm",
        "--post-process-mask",
        action="store_true",
        help="smooth and binarise the mask as rembg's -ppm does",
    )
    cut.add_argument(
        "-a",
        "--alpha-matting",
        action="store_true",
        help="refine soft edges with closed-form matting, as rembg -a "
        "(slow; needs the [matting] extra)",
    )
    cut.add_argument("-af", "--alpha-matting-foreground-threshold", type=_byte, default=240)
    cut.add_argument("-ab", "--alpha-matting-background-threshold", type=_byte, default=10)
    cut.add_argument("-ae", "--alpha-matting-erode-size", type=_byte, default=10)
    cut.add_argument("--bgcolor", type=_color, help="compose over R,G,B[,A]")
    cut.add_argument(
        "--format", choices=FORMATS, help="default: from -o's suffix (.png/.webp/.jpg), else png"
    )
    cut.add_argument(
        "--png-compression",
        type=int,
        default=DEFAULT_PNG_COMPRESSION,
        choices=range(10),
        metavar="0-9",
        help="(default: %(default)s, measured)",
    )
    cut.add_argument("--skip-existing", action="store_true", help="resume: skip done outputs")
    cut.add_argument(
        "--max-pixels",
        type=_positive,
        default=DEFAULT_MAX_PIXELS,
        help="refuse larger images, checked before decoding (default: %(default)s)",
    )
    cut.add_argument(
        "--retries",
        type=_positive,
        default=RetryPolicy().attempts,
        help="attempts when the server is unavailable (default: %(default)s)",
    )
    _add_server_args(cut)

    ab = sub.add_parser("ab", help="compare two served models on the same images and load")
    ab.add_argument("model_a", metavar="MODEL_A")
    ab.add_argument("model_b", metavar="MODEL_B")
    ab.add_argument("images", nargs="+", metavar="IMAGES", help="files or folders")
    ab.add_argument(
        "--requests",
        type=_positive,
        default=20,
        help="requests per variant, at least one per image (default: %(default)s)",
    )
    ab.add_argument("--json", action="store_true", help="machine-readable output")
    ab.add_argument("--max-pixels", type=_positive, default=DEFAULT_MAX_PIXELS)
    _add_server_args(ab)

    bench = sub.add_parser("bench", help="load generator: a concurrency sweep on one model")
    bench.add_argument("model", metavar="MODEL")
    bench.add_argument(
        "--concurrency",
        type=_int_list,
        default=[1, 2, 4],
        help="comma-separated sweep (default: 1,2,4)",
    )
    bench.add_argument(
        "--mode",
        choices=MODES,
        default="server",
        help="server: pre-processed tensors; e2e: decode, pre, post, encode too",
    )
    bench.add_argument("--images", nargs="+", type=Path, help="default: sample photos")
    bench.add_argument(
        "--requests",
        type=_positive,
        default=20,
        help="requests per measurement window (default: %(default)s)",
    )
    bench.add_argument(
        "--windows",
        type=_positive,
        default=3,
        help="at most this many windows, until two agree within 10%% (default: %(default)s)",
    )
    out = bench.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true")
    out.add_argument("--csv", action="store_true")
    _add_server_args(bench, concurrency=False)
    return parser


def _progress(total: int, quiet: bool) -> Callable[[Iterable], Iterable]:
    def wrap(items: Iterable) -> Iterable:
        if quiet or total < 2:
            return items
        return tqdm(items, total=total, unit="img", file=sys.stderr, disable=None, leave=False)

    return wrap


def cmd_cut(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    try:
        fmt = output_format(args.format, args.output)
        matting = None
        if args.alpha_matting:
            matting = MattingOptions(
                args.alpha_matting_foreground_threshold,
                args.alpha_matting_background_threshold,
                args.alpha_matting_erode_size,
            )
        options = OutputOptions(
            only_mask=args.only_mask,
            bgcolor=args.bgcolor,
            post_process=args.post_process_mask,
            matting=matting,
            fmt=fmt,
            png_compression=args.png_compression,
        )
        jobs = plan(args.inputs, args.output, fmt)
    except (ValueError, UsageError) as e:
        parser.error(str(e))
    cutter = Cutter(
        args.url,
        args.model,
        timeout_s=args.timeout,
        concurrency=args.concurrency,
        max_pixels=args.max_pixels,
        retry=RetryPolicy(attempts=args.retries),
    )
    with cutter:
        summary = run_jobs(
            cutter, jobs, options, args.skip_existing, _progress(len(jobs), args.quiet)
        )
    for source, reason in summary.failures:
        print(f"failed: {source}: {reason}", file=sys.stderr)
    if len(jobs) == 1 and not summary.failures and not args.quiet:
        print(jobs[0].target)
    elif not args.quiet or summary.failures:
        print(summary.line(), file=sys.stderr)
    return 1 if summary.failures else 0


def _image_paths(inputs: list[str]) -> list[Path]:
    return [path for path, _rel in expand(inputs)[0]]


def cmd_ab(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    paths = _image_paths(args.images)
    if not paths:
        parser.error(f"no image files found in {' '.join(args.images)}")
    report = run_ab(
        args.url,
        args.model_a,
        args.model_b,
        paths,
        concurrency=args.concurrency,
        requests=args.requests,
        timeout_s=args.timeout,
        max_pixels=args.max_pixels,
    )
    data = report.as_dict()
    if args.json:
        print(to_json(data))
        return 0
    print(
        f"A/B at concurrency {args.concurrency}, {data['variants'][0]['requests']} requests "
        f"each, {len(report.agreements)} images"
    )
    print(table(VARIANT_HEADERS, variant_rows(report)))
    agree = data["agreement"]
    print(f"\nagreement of {report.b.model} against {report.a.model} (masks at 320x320):")
    print(
        table(
            ["images", "IoU@0.5 mean", "IoU@0.5 worst", "mean abs Δ", "max abs Δ"],
            [
                [
                    agree["images"],
                    agree["iou_mean"],
                    agree["iou_worst"],
                    agree["mean_abs_diff_mean"],
                    agree["max_abs_diff"],
                ]
            ],
        )
    )
    print(
        "worst: "
        + ", ".join(
            f"{Path(m.name).name} (IoU {m.iou:.4f}, mean |Δ| {m.mean_abs_diff:.2f})"
            for m in report.worst()
        )
    )
    for image, reason in report.skipped:
        print(f"skipped: {image}: {reason}", file=sys.stderr)
    return 0


def cmd_bench(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    paths = args.images or sample_photos()
    names, batch, skipped = load_inputs(paths, DEFAULT_MAX_PIXELS)
    for image, reason in skipped:
        print(f"skipped: {image}: {reason}", file=sys.stderr)
    readable = [Path(n) for n in names]
    with Cutter(args.url, args.model, timeout_s=args.timeout) as cutter:
        rows = sweep(
            cutter,
            args.mode,
            readable,
            batch,
            concurrencies=args.concurrency,
            requests=args.requests,
            max_windows=args.windows,
        )
        name = cutter.model_name
    values = [list(r.as_dict().values()) for r in rows]
    if args.json:
        print(to_json({"model": name, "mode": args.mode, "rows": [r.as_dict() for r in rows]}))
    elif args.csv:
        print(to_csv(HEADERS, values), end="")
    else:
        print(f"{name}, mode {args.mode}, {len(readable)} images")
        print(table(HEADERS, values))
    errors = sum(len(r.window.errors) for r in rows)
    return 1 if errors else 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(logging.DEBUG if args.verbose else logging.WARNING)
    handlers = {"cut": cmd_cut, "ab": cmd_ab, "bench": cmd_bench}
    return run_handler(lambda: handlers[args.command](args, parser))
