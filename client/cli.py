"""``python -m client``: cut photos through Triton; compare and load-test served models."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from tqdm import tqdm

from client.ab import VARIANT_HEADERS, load_inputs, run_ab, variant_rows
from client.args import OutputArgs
from client.bench import HEADERS, MODES, sweep
from client.breaker import Breaker, BreakerPolicy
from client.cutter import DEFAULT_CONCURRENCY, Cutter
from client.frames import PatternSink, StreamSink, cut_stream
from client.inputs import expand, plan
from client.jobs import run_jobs
from client.rawvideo import FrameReader, check_pattern
from client.retry import RetryPolicy
from client.server_side import ServerSideCutter
from client.targets import DEFAULT_RERESOLVE_S
from client.triton import DEFAULT_TIMEOUT_S
from u2net import cli as edge
from u2net.agreement import CERTIFIED_COLUMNS, INT8_BAR, certified_rows
from u2net.catalogue import DEFAULT_MODEL, model_help, rembg_custom_hint
from u2net.deployment import URL_ENV, default_url
from u2net.errors import OptionError, UsageError
from u2net.image.io import DEFAULT_MAX_PIXELS
from u2net.options import (
    OutputOptions,
)
from u2net.report import table, to_csv, to_json
from u2net.samples import sample_photos

log = logging.getLogger("client")

DEFAULT_REQUESTS = 20
DEFAULT_WINDOWS = 3
DEFAULT_SWEEP = "1,2,4"


def _add_connection(p: argparse.ArgumentParser, concurrency: bool = True) -> None:
    """--url, --timeout, --max-pixels and (where it applies) --concurrency."""
    p.add_argument(
        "--url",
        default=default_url(),
        help=f"Triton gRPC address; several replicas: ipv4:HOST:PORT,HOST:PORT or "
        f"dns:///NAME:PORT, balanced round-robin (${URL_ENV} overrides)",
    )
    p.add_argument(
        "--timeout",
        type=edge.positive_float,
        default=DEFAULT_TIMEOUT_S,
        help="seconds per request, all its retries included",
    )
    p.add_argument(
        "--max-pixels",
        type=edge.positive_int,
        default=DEFAULT_MAX_PIXELS,
        help="refuse larger images, checked before decoding",
    )
    if concurrency:
        p.add_argument(
            "--concurrency",
            type=edge.positive_int,
            default=DEFAULT_CONCURRENCY,
            help="requests in flight",
        )


def _add_model(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-m",
        "--model",
        default=DEFAULT_MODEL,
        help=f"a base name (_trt if ready, else _onnx) or a served name: {model_help()}; "
        "a custom model by its name (python -m convert custom)",
    )
    p.add_argument(
        "-x",
        "--extras",
        type=json_object,
        default={},
        metavar="JSON",
        help="rembg's extra session arguments: with -m u2net_custom or dis_custom, "
        "'{\"model_path\": FILE}' says how to stage FILE here",
    )


def json_object(text: str) -> dict:
    """rembg's ``-x``: a JSON object."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise argparse.ArgumentTypeError(f"expected a JSON object, got {text!r} ({e})") from e
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object, got {text!r}")
    return value


def check_model(args: argparse.Namespace) -> None:
    """rembg's custom sessions and ``-x`` as a usage error that says what to do here."""
    model = getattr(args, "model", None)
    if model is None:
        return
    extras = getattr(args, "extras", {})  # bench names its model without -x
    hint = rembg_custom_hint(model, extras)
    if hint is not None:
        raise UsageError(hint)
    if extras:
        keys = ", ".join(sorted(extras))
        raise UsageError(
            f"-x: expected it only with -m u2net_custom or dis_custom (model_path), got {keys}"
            f" with -m {model}"
        )


def _add_retries(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--retries",
        type=edge.non_negative_int,
        default=None,
        help="at most this many retries when the server is unreachable or restarting "
        "(0: none; default: as many as --timeout allows, with jittered backoff)",
    )
    p.add_argument(
        "--outage-grace",
        type=edge.positive_float,
        default=None,
        metavar="S",
        help="a server failing for longer than this is judged gone: what is not yet sent "
        "is not processed (default: --timeout)",
    )
    p.add_argument(
        "--reresolve-interval",
        type=edge.positive_float,
        default=DEFAULT_RERESOLVE_S,
        metavar="S",
        help="a dns: target is resolved again this often, to reach replicas added since",
    )


def link_settings(args: argparse.Namespace) -> dict:
    """The retry, breaker and re-resolve settings of ``_add_retries``' flags, as keywords."""
    return {
        "retry": RetryPolicy(retries=args.retries),
        "breaker": Breaker(BreakerPolicy(grace_s=args.outage_grace or args.timeout)),
        "reresolve_s": args.reresolve_interval,
    }


def _add_cut(sub: object) -> None:
    cut = edge.add_subcommand(sub, "cut", "cut the subject out of photos")
    cut.add_argument("inputs", nargs="+", metavar="INPUT", help="files, folders or globs")
    cut.add_argument(
        "-o",
        "--output",
        type=Path,
        help="output file (one input) or folder (several; paths are mirrored)",
    )
    _add_model(cut)
    OutputArgs(photos=True).add_to(cut)
    cut.add_argument(
        "--server-side",
        action="store_true",
        help="send the file's bytes to Triton's `cutout` model, which does all the work",
    )
    cut.add_argument("--skip-existing", action="store_true", help="resume: skip done outputs")
    _add_retries(cut)
    _add_connection(cut)
    edge.add_verbosity(cut, subcommand=True)


def _add_frames(sub: object) -> None:
    frames = edge.add_subcommand(
        sub,
        "frames",
        "cut raw RGB24 video frames from stdin (rembg b)",
        description="Cut raw RGB24 frames read from standard input (for example "
        "`ffmpeg -i clip.mp4 -an -f rawvideo -pix_fmt rgb24 pipe:1 | ...`), in order, several "
        "in flight. Without -o: the results one after the other on standard output.",
    )
    frames.add_argument("width", type=edge.positive_int, metavar="WIDTH", help="frame width")
    frames.add_argument("height", type=edge.positive_int, metavar="HEIGHT", help="frame height")
    out = frames.add_mutually_exclusive_group()
    out.add_argument(
        "-o",
        "--output",
        metavar="PATTERN",
        help="one file per frame, printf-style, from index 0 (frame-%%03d.png); "
        "default: concatenated images on standard output",
    )
    out.add_argument(
        "--raw",
        action="store_true",
        help="raw frames on standard output: rgba, or gray with --only-mask "
        "(for ffmpeg -f rawvideo)",
    )
    _add_model(frames)
    frames.add_argument(
        "--smooth",
        type=edge.positive_int,
        default=1,
        metavar="N",
        help="average each frame's mask with those of the N-1 frames before it, "
        "against flicker (1: off)",
    )
    OutputArgs(photos=False).add_to(frames)
    _add_retries(frames)
    _add_connection(frames)
    edge.add_verbosity(frames, subcommand=True)


def _add_ab(sub: object) -> None:
    ab = edge.add_subcommand(
        sub,
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
    _add_connection(ab)
    edge.add_verbosity(ab, quiet=False, subcommand=True)


def _add_bench(sub: object) -> None:
    bench = edge.add_subcommand(sub, "bench", "load generator: a concurrency sweep on one model")
    bench.add_argument(
        "model", metavar="MODEL", help="a base, custom or served name, as cut's --model"
    )
    bench.add_argument(
        "images",
        nargs="*",
        metavar="IMAGES",
        help="files or folders (default: scikit-image's sample photos)",
    )
    bench.add_argument(
        "--concurrency",
        type=edge.int_list,
        default=DEFAULT_SWEEP,
        help="comma-separated sweep, e.g. 1,2,4",
    )
    bench.add_argument(
        "--mode",
        choices=MODES,
        default="server",
        help="server: pre-processed tensors; e2e: decode, pre, post, encode too",
    )
    bench.add_argument(
        "--requests",
        type=edge.positive_int,
        default=DEFAULT_REQUESTS,
        help="requests per measurement window",
    )
    bench.add_argument(
        "--windows",
        type=edge.positive_int,
        default=DEFAULT_WINDOWS,
        help="at most this many windows, until two agree within 10%%",
    )
    out = bench.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="machine-readable output")
    out.add_argument("--csv", action="store_true", help="CSV output")
    _add_connection(bench, concurrency=False)
    edge.add_verbosity(bench, quiet=False, subcommand=True)


def build_parser() -> argparse.ArgumentParser:
    parser = edge.make_parser("python -m client", "Background removal through Triton.")
    edge.add_verbosity(parser, quiet=False)  # -q only where it does something: `cut -q`
    sub = edge.add_subparsers(parser)
    _add_cut(sub)
    _add_frames(sub)
    _add_ab(sub)
    _add_bench(sub)
    return parser


def _progress(total: int, quiet: bool) -> Callable[[Iterable], Iterable]:
    def wrap(items: Iterable) -> Iterable:
        if quiet or total < 2:
            return items
        return tqdm(items, total=total, unit="img", file=sys.stderr, disable=None, leave=False)

    return wrap


def output_options(args: argparse.Namespace) -> OutputOptions:
    """The output flags of cut or frames as options."""
    output = Path(args.output) if args.output is not None else None
    return OutputArgs(photos=args.command == "cut").parse(args, output)


def cmd_cut(args: argparse.Namespace) -> int:
    options = output_options(args)
    jobs = plan(args.inputs, args.output, options.fmt)
    kind = ServerSideCutter if args.server_side else Cutter
    cutter = kind(
        args.url,
        args.model,
        timeout_s=args.timeout,
        concurrency=args.concurrency,
        max_pixels=args.max_pixels,
        **link_settings(args),
    )
    quiet = getattr(args, "quiet", False)  # a subcommand's -q is absent unless given
    with cutter:
        progress = _progress(len(jobs), quiet)
        summary = run_jobs(cutter, jobs, options, args.skip_existing, progress)
    for source, reason in summary.failures:
        print(f"failed: {source}: {reason}", file=sys.stderr)
    for source in summary.unprocessed:
        print(f"not processed: {source}", file=sys.stderr)
    if summary.gone:
        print(f"stopped: {summary.gone}", file=sys.stderr)
    if len(jobs) == 1 and not summary.failures and not quiet:
        print(jobs[0].target)
    elif not quiet or summary.failures:
        print(summary.line(), file=sys.stderr)
    return 1 if summary.failures or summary.unprocessed else 0


def cmd_frames(args: argparse.Namespace) -> int:
    if args.raw and args.format is not None:
        raise UsageError(f"--raw writes raw frames: expected no --format, got {args.format}")
    options = output_options(args)
    if args.output is not None:
        try:
            check_pattern(args.output)
        except OptionError as e:
            raise UsageError(str(e)) from e
    stdin = sys.stdin.buffer
    if stdin.isatty():
        raise UsageError("expected raw RGB24 frames on standard input (ffmpeg), got a terminal")
    if args.output is None and sys.stdout.isatty():
        raise UsageError("refusing to write images to a terminal: pipe them, or give -o PATTERN")
    sink = PatternSink(args.output) if args.output else StreamSink(sys.stdout.buffer)
    cutter = Cutter(
        args.url,
        args.model,
        timeout_s=args.timeout,
        concurrency=args.concurrency,
        max_pixels=args.max_pixels,
        **link_settings(args),
    )
    with cutter:
        reader = FrameReader(stdin, args.width, args.height)
        summary = cut_stream(cutter, reader, sink, options, raw=args.raw, smooth=args.smooth)
    if not getattr(args, "quiet", False):
        print(summary.line(), file=sys.stderr)
    return 0


def image_paths(inputs: list[str]) -> list[Path]:
    """Files and folders -> image files; none at all is a usage error."""
    paths = [path for path, _rel in expand(inputs)[0]]
    if not paths:
        raise UsageError(f"no image files found in {' '.join(inputs)}")
    return paths


def cmd_ab(args: argparse.Namespace) -> int:
    report = run_ab(
        args.url,
        args.model_a,
        args.model_b,
        image_paths(args.images),
        concurrency=args.concurrency,
        requests=args.requests,
        timeout_s=args.timeout,
        max_pixels=args.max_pixels,
        floor=args.floor,
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
    where = report.compared_at()
    print(f"\nagreement of {report.b.model} against {report.a.model} (masks at {where}):")
    print(table(AGREEMENT_HEADERS, [[data["agreement"][key] for key in AGREEMENT_KEYS]]))
    worst = ", ".join(
        f"{Path(m.name).name} (IoU {m.iou:.4f}, mean |Δ| {m.mean_abs_diff:.2f})"
        for m in report.worst()
    )
    print(f"worst: {worst}")
    if report.floors is not None:
        print(f"\nper image, beside {report.a.model}'s own noise floor there:")
        print(table(list(CERTIFIED_COLUMNS), certified_rows(report.certified())))
    a, b = data["variants"]
    ratio = b["throughput_per_s"] / a["throughput_per_s"] if a["throughput_per_s"] else 0.0
    inside = data["agreement"]["inside_floor"]
    verdict = (
        f"; {inside}/{len(report.agreements)} images inside {report.a.model}'s noise floor "
        f"(IoU >= min({INT8_BAR.min_iou}, floor), mean |Δ| <= "
        f"max({INT8_BAR.max_mean_abs_diff:g}, floor))"
        if inside is not None
        else ""
    )
    print(f"{report.b.model}: {ratio:.2f}x {report.a.model}'s throughput{verdict}")
    for image, reason in report.skipped:
        print(f"skipped: {image}: {reason}", file=sys.stderr)
    return 0


AGREEMENT_HEADERS = ["images", "IoU@0.5 mean", "IoU@0.5 worst", "mean abs Δ", "max abs Δ"]
AGREEMENT_KEYS = ["images", "iou_mean", "iou_worst", "mean_abs_diff_mean", "max_abs_diff"]


def cmd_bench(args: argparse.Namespace) -> int:
    paths = image_paths(args.images) if args.images else sample_photos()
    with Cutter(args.url, args.model, timeout_s=args.timeout, max_pixels=args.max_pixels) as cutter:
        cutter.connect()  # the served model's input size (1024² for IS-Net), to resize to
        names, batch, skipped = load_inputs(paths, args.max_pixels, cutter.contract)
        for image, reason in skipped:
            print(f"skipped: {image}: {reason}", file=sys.stderr)
        readable = [Path(n) for n in names]
        rows = sweep(
            cutter,
            args.mode,
            readable,
            batch,
            concurrencies=args.concurrency,
            requests=args.requests,
            max_windows=args.windows,
        )
        name = cutter.connect()
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


HANDLERS = {"cut": cmd_cut, "frames": cmd_frames, "ab": cmd_ab, "bench": cmd_bench}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    edge.setup_logging(edge.log_level(args, default=logging.WARNING))

    def handle() -> int:
        check_model(args)
        return HANDLERS[args.command](args)

    return edge.run_handler(handle, parser)
