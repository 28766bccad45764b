"""``python -m client bench``: a concurrency sweep on one served model, as a table, CSV or JSON."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from client.args import LinkArgs, check_model
from client.cutter import Cutter
from client.inputs import image_paths
from client.load.ab import load_inputs
from client.load.bench import HEADERS, MODES, sweep
from u2net import cli as edge
from u2net.report import table, to_csv, to_json
from u2net.samples import sample_photos

DEFAULT_REQUESTS = 20
DEFAULT_WINDOWS = 3
DEFAULT_SWEEP = "1,2,4"
LINK = LinkArgs(concurrency=False, retries=False, reresolve=False)  # --concurrency: the sweep


def add(subparsers: object) -> None:
    bench = edge.add_subcommand(
        subparsers, "bench", "load generator: a concurrency sweep on one model"
    )
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
    LINK.add_to(bench)
    edge.add_verbosity(bench, quiet=False, subcommand=True)


def run(args: argparse.Namespace) -> int:
    check_model(args.model)
    link = LINK.parse(args)
    paths = image_paths(args.images) if args.images else sample_photos()
    with Cutter(
        link.url, args.model, timeout_s=link.timeout_s, max_pixels=link.max_pixels
    ) as cutter:
        cutter.connect()  # the served model's input size (1024² for IS-Net), to resize to
        names, batch, skipped = load_inputs(paths, link.max_pixels, cutter.contract)
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
