"""``python -m client frames``: raw RGB24 video frames from standard input cut in order, several
in flight (rembg's ``b``), into one file per frame or one stream on standard output."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from client.args import LinkArgs, ModelArgs, OutputArgs
from client.cutter import Cutter
from client.frames import PatternSink, StreamSink, cut_stream
from client.rawvideo import FrameReader, check_pattern
from u2net import cli as edge
from u2net.errors import OptionError, UsageError

MODEL = ModelArgs()
OUTPUT = OutputArgs(photos=False)  # a video's frames keep their size and place
LINK = LinkArgs()


def add(subparsers: object) -> None:
    frames = edge.add_subcommand(
        subparsers,
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
    MODEL.add_to(frames)
    frames.add_argument(
        "--smooth",
        type=edge.positive_int,
        default=1,
        metavar="N",
        help="average each frame's mask with those of the N-1 frames before it, "
        "against flicker (1: off)",
    )
    LINK.add_to(frames)
    edge.add_verbosity(frames, subcommand=True)
    OUTPUT.add_to(frames)


def run(args: argparse.Namespace) -> int:
    model = MODEL.parse(args)
    if args.raw and args.format is not None:
        raise UsageError(f"--raw writes raw frames: expected no --format, got {args.format}")
    options = OUTPUT.parse(args, Path(args.output) if args.output is not None else None)
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
    link = LINK.parse(args)
    cutter = Cutter(
        link.url, model, concurrency=link.concurrency, max_pixels=link.max_pixels, **link.link()
    )
    with cutter:
        reader = FrameReader(stdin, args.width, args.height)
        summary = cut_stream(cutter, reader, sink, options, raw=args.raw, smooth=args.smooth)
    if not getattr(args, "quiet", False):
        print(summary.line(), file=sys.stderr)
    return 0
