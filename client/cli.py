"""``python -m client``: cut photos through Triton; compare and load-test served models.

Each subcommand is a module of client/commands/; its flags come from client/args.py's
argument groups."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from client.args import OutputArgs
from client.commands import ab, bench, cut, frames
from u2net import cli as edge
from u2net.options import OutputOptions

COMMANDS = {"cut": cut, "frames": frames, "ab": ab, "bench": bench}


def build_parser() -> argparse.ArgumentParser:
    parser = edge.make_parser("python -m client", "Background removal through Triton.")
    edge.add_verbosity(parser, quiet=False)  # -q only where it does something: `cut -q`
    sub = edge.add_subparsers(parser)
    for command in COMMANDS.values():
        command.add(sub)
    return parser


def output_options(args: argparse.Namespace) -> OutputOptions:
    """The output flags of ``cut`` or ``frames`` as options (their format defaulting to -o's
    suffix)."""
    output = Path(args.output) if args.output is not None else None
    return OutputArgs(photos=args.command == "cut").parse(args, output)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    edge.setup_logging(edge.log_level(args, default=logging.WARNING))
    return edge.run_handler(lambda: COMMANDS[args.command].run(args), parser)
