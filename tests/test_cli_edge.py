"""The one command-line edge shared by the five CLIs (convert, server, doctor, client, web):
every option explains itself and shows its default, -v works before and after a subcommand, and
``run_handler`` maps user errors, usage errors, Ctrl-C and bugs to their exit codes."""

from __future__ import annotations

import argparse
import logging
import re
from collections.abc import Callable, Iterator

import pytest

from client.cli import build_parser as client_parser
from convert.cli import build_parser as convert_parser
from doctor.cli import build_parser as doctor_parser
from server.cli import build_parser as server_parser
from u2net import cli as edge
from u2net.errors import ServingError, UsageError
from web.cli import build_parser as web_parser

PARSERS: dict[str, Callable[[], argparse.ArgumentParser]] = {
    "convert": convert_parser,
    "server": server_parser,
    "client": client_parser,
    "web": web_parser,
    "doctor": doctor_parser,
}


def _parsers(name: str, parser: argparse.ArgumentParser) -> Iterator[tuple[str, object]]:
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command, sub in action.choices.items():
                yield from _parsers(f"{name} {command}", sub)


OPTIONS = [
    pytest.param(parser, action, id=f"{where} {action.option_strings[-1]}")
    for program, build in PARSERS.items()
    for where, parser in _parsers(program, build())
    for action in parser._actions
    if action.option_strings and action.help != argparse.SUPPRESS and action.dest != "help"
]


def _entry(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    """The option's own entry in the help a user sees, whitespace folded: argparse starts each
    entry on a line of its own with the flags, indented by two spaces."""
    entries: list[str] = []
    for line in parser.format_help().splitlines():
        if line.startswith("  -"):
            entries.append(line)
        elif entries and line.startswith("   "):
            entries[-1] += " " + line
    flag = re.compile(rf"^\s*(?:\S+ ?\S*, )*{re.escape(action.option_strings[0])}[ ,]")
    found = [" ".join(e.split()) for e in entries if flag.match(e + " ")]
    assert len(found) == 1, f"{action.option_strings} is not one entry of the help: {found}"
    return found[0]


@pytest.mark.parametrize(("parser", "action"), OPTIONS)
def test_every_option_explains_itself_and_shows_its_default(parser, action) -> None:
    assert action.help, f"{action.option_strings} has no help text"
    if action.default not in (None, False, argparse.SUPPRESS):
        entry = "".join(_entry(parser, action).split())  # argparse may wrap a value anywhere
        assert "default:" + "".join(str(action.default).split()) in entry, entry


@pytest.mark.parametrize(
    "argv",
    [
        ("convert", ["-v", "fetch"]),
        ("convert", ["fetch", "-v"]),
        ("client", ["-v", "cut", "x.jpg"]),
        ("client", ["cut", "x.jpg", "-v"]),
        ("doctor", ["-v"]),
        ("server", ["-v"]),
        ("web", ["-v"]),
    ],
    ids=lambda v: " ".join([v[0], *v[1]]),
)
def test_verbose_works_before_and_after_the_subcommand(argv: tuple[str, list[str]]) -> None:
    program, args = argv
    assert edge.log_level(PARSERS[program]().parse_args(args)) == logging.DEBUG


def test_a_subcommands_absent_flag_keeps_the_programs() -> None:
    args = convert_parser().parse_args(["-q", "configs"])
    assert edge.log_level(args) == logging.ERROR


def _raise(error: BaseException) -> Callable[[], int]:
    def handler() -> int:
        raise error

    return handler


@pytest.mark.parametrize(
    ("error", "code", "line"),
    [
        (ServingError("expected a photo, got a dir"), 1, "error: expected a photo, got a dir"),
        (UsageError("expected one model, got two"), 2, "error: expected one model, got two"),
        (KeyboardInterrupt(), 130, "interrupted"),
    ],
    ids=["user-error", "usage-error", "ctrl-c"],
)
def test_run_handler_exit_codes(
    error: BaseException, code: int, line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert edge.run_handler(_raise(error)) == code
    assert capsys.readouterr().err.strip().splitlines()[-1] == line


def test_run_handler_lets_a_bug_keep_its_traceback() -> None:
    with pytest.raises(ZeroDivisionError):
        edge.run_handler(_raise(ZeroDivisionError("a bug")))


def test_run_handler_ends_a_broken_pipe_quietly_with_141(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`prog | head`: the reader went away; no traceback, no line, the shell's SIGPIPE code."""
    assert edge.run_handler(_raise(BrokenPipeError())) == 141
    assert capsys.readouterr().err == ""
