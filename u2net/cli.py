"""The one command-line edge of every CLI in the project: verbosity, logging, argument types
and error handling. Handlers stay short and call library functions.

- ``-v``/``-q`` mean the same everywhere (:func:`add_verbosity`, :func:`setup_logging`).
- User errors (``ServingError``) print one ``error: ...`` line and exit 1; usage errors exit 2;
  Ctrl-C exits 130; a broken pipe on stdout exits 141 quietly. Anything else is a bug and
  keeps its traceback (:func:`run_handler`).
- Argument types say "expected X, got Y".
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
from collections.abc import Callable
from typing import TypeVar

from u2net.catalogue import KnownModel, parse_models
from u2net.errors import ServingError, UsageError
from u2net.options import Color, parse_color

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports Ctrl-C
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports `yes | head`

T = TypeVar("T")


class HelpFormatter(argparse.HelpFormatter):
    """Shows every option's default (skipping flags that are off and options with none)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        hidden = action.default in (None, False, argparse.SUPPRESS)
        if "%(default)" in text or hidden or not action.option_strings:
            return text
        return f"{text} (default: %(default)s)"


def make_parser(prog: str, description: str | None) -> argparse.ArgumentParser:
    """A parser whose help shows every option's default."""
    return argparse.ArgumentParser(
        prog=prog, description=description, formatter_class=HelpFormatter
    )


def add_subparsers(parser: argparse.ArgumentParser, required: bool = True) -> object:
    return parser.add_subparsers(
        dest="command", required=required, parser_class=argparse.ArgumentParser
    )


def add_subcommand(subparsers: object, name: str, help_text: str, **kwargs: object):
    """A subcommand parser with the same help formatting as :func:`make_parser`."""
    return subparsers.add_parser(  # type: ignore[attr-defined]
        name,
        help=help_text,
        description=kwargs.pop("description", help_text),
        formatter_class=HelpFormatter,
        **kwargs,
    )


def add_verbosity(
    parser: argparse.ArgumentParser, quiet: bool = True, subcommand: bool = False
) -> None:
    """``-v`` (debug log) and, where it does something, ``-q`` (errors only).

    Offered on the program and on each subcommand (``subcommand=True``), so both
    ``prog -v cmd`` and ``prog cmd -v`` work: a subcommand's flags default to "not given"
    and never undo the program's.
    """
    default = argparse.SUPPRESS if subcommand else False
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=default,
        help="log details (debug level) on stderr",
    )
    if quiet:
        parser.add_argument(
            "-q",
            "--quiet",
            action="store_true",
            default=default,
            help="errors only: no progress, no info lines",
        )


class StoreTuple(argparse.Action):
    """Store several values of one option as a tuple (rembg's ``-bgc R G B A``)."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        setattr(namespace, self.dest, tuple(values))  # type: ignore[arg-type]


def log_level(args: argparse.Namespace, default: int = logging.INFO) -> int:
    if getattr(args, "verbose", False):
        return logging.DEBUG
    if getattr(args, "quiet", False):
        return logging.ERROR
    return default


def setup_logging(level: int, prefix: str = "") -> None:
    """Only the CLI sets up output: one line per message on stderr."""
    logging.basicConfig(level=level, format=f"{prefix}%(message)s", stream=sys.stderr, force=True)


def run_handler(handler: Callable[[], int], parser: argparse.ArgumentParser | None = None) -> int:
    """Run a subcommand: user errors are one line on stderr and exit 1, usage errors exit 2,
    Ctrl-C exits 130, a broken stdout 141. Anything else is a bug and keeps its traceback."""
    try:
        return handler()
    except UsageError as e:
        if parser is not None:
            parser.print_usage(sys.stderr)
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except ServingError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # the reader of stdout went away (`| head`): end quietly, as a Unix filter does
        _silence_stdout()
        return EXIT_BROKEN_PIPE


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that Python's last flush on exit does not hit the
    broken pipe again and print a traceback (the recipe of Python's signal docs)."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (captured in tests)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


# --- argument types: each raises ArgumentTypeError saying "expected X, got Y" -------------


def _number(text: str, kind: Callable[[str], T], what: str) -> T:
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None


def positive_int(text: str) -> int:
    value = _number(text, int, "a whole number ≥ 1")
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number ≥ 1, got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    value = _number(text, int, "a whole number ≥ 0")
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number ≥ 0, got {text!r}")
    return value


def positive_float(text: str) -> float:
    value = _number(text, float, "a number > 0")
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def port(text: str) -> int:
    value = _number(text, int, "a port 1..65535")
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port 1..65535, got {text!r}")
    return value


def byte(text: str) -> int:
    value = _number(text, int, "a whole number 0..255")
    if not 0 <= value <= 255:
        raise argparse.ArgumentTypeError(f"expected a whole number 0..255, got {text!r}")
    return value


def int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected numbers ≥ 1 like 1,2,4, got {text!r}")
    return values


def color(text: str) -> Color:
    try:
        return parse_color(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from e


def models(text: str) -> list[KnownModel]:
    """Base names (``u2netp``) or served names (``u2netp_onnx``), comma-separated."""
    try:
        return parse_models(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from e
