"""``python -m client cut``: cut the subject out of photos, files or folders, several at once."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from tqdm import tqdm

from client.args import LinkArgs, ModelArgs, OutputArgs
from client.cutout import ServerSideCutter
from client.cutter import Cutter
from client.inputs import plan
from client.jobs import run_jobs
from u2net import cli as edge

MODEL = ModelArgs()
OUTPUT = OutputArgs(photos=True)
LINK = LinkArgs()


def add(subparsers: object) -> None:
    cut = edge.add_subcommand(subparsers, "cut", "cut the subject out of photos")
    cut.add_argument("inputs", nargs="+", metavar="INPUT", help="files, folders or globs")
    cut.add_argument(
        "-o",
        "--output",
        type=Path,
        help="output file (one input) or folder (several; paths are mirrored)",
    )
    MODEL.add_to(cut)
    cut.add_argument(
        "--server-side",
        action="store_true",
        help="send the file's bytes to Triton's `cutout` model, which does all the work",
    )
    cut.add_argument("--skip-existing", action="store_true", help="resume: skip done outputs")
    LINK.add_to(cut)
    edge.add_verbosity(cut, subcommand=True)
    OUTPUT.add_to(cut)


def progress(total: int, quiet: bool) -> Callable[[Iterable], Iterable]:
    def wrap(items: Iterable) -> Iterable:
        if quiet or total < 2:
            return items
        return tqdm(items, total=total, unit="img", file=sys.stderr, disable=None, leave=False)

    return wrap


def run(args: argparse.Namespace) -> int:
    model = MODEL.parse(args)
    options = OUTPUT.parse(args, args.output)
    jobs = plan(args.inputs, args.output, options.fmt)
    link = LINK.parse(args)
    kind = ServerSideCutter if args.server_side else Cutter
    cutter = kind(
        link.url,
        model,
        concurrency=link.concurrency,
        max_pixels=link.max_pixels,
        **link.link(),
    )
    quiet = getattr(args, "quiet", False)  # a subcommand's -q is absent unless given
    with cutter:
        summary = run_jobs(cutter, jobs, options, args.skip_existing, progress(len(jobs), quiet))
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
