"""``python -m client``: cut photos through Triton; compare and load-test served models."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterable
from pathlib import Path

from tqdm import tqdm

from client.batch import run_jobs
from client.cutter import DEFAULT_CONCURRENCY, Cutter
from client.errors import ServingError
from client.imaging import (
    DEFAULT_MAX_PIXELS,
    DEFAULT_PNG_COMPRESSION,
    FORMATS,
    OutputOptions,
    parse_color,
)
from client.inputs import UsageError, plan
from client.triton import DEFAULT_MODEL, DEFAULT_TIMEOUT_S, URL_ENV, RetryPolicy, default_url

log = logging.getLogger("client")


def _color(text: str) -> tuple[int, int, int, int]:
    try:
        return parse_color(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from e


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number ≥ 1, got {text}")
    return value


def _add_server_args(p: argparse.ArgumentParser) -> None:
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
    cut.add_argument("--bgcolor", type=_color, help="compose over R,G,B[,A]")
    cut.add_argument("--format", choices=FORMATS, default="png")
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
    return parser


def _progress(total: int, quiet: bool) -> callable:
    def wrap(items: Iterable) -> Iterable:
        if quiet or total < 2:
            return items
        return tqdm(items, total=total, unit="img", file=sys.stderr, disable=None, leave=False)

    return wrap


def cmd_cut(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    try:
        options = OutputOptions(args.only_mask, args.bgcolor, args.format, args.png_compression)
        jobs = plan(args.inputs, args.output, args.format)
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


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.DEBUG if args.verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(message)s", stream=sys.stderr)
    handlers = {"cut": cmd_cut}
    try:
        return handlers[args.command](args, parser)
    except ServingError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
