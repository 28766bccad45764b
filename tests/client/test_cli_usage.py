"""Usage errors of `python -m client`: exit 2, one clear "expected X, got Y", no server needed.

The URL points at a port nobody listens on: a usage error must be reported before any
connection is attempted, so these tests pass (and fail) without a Triton server.
"""

from __future__ import annotations

import pytest

from tests.cli_run import run_cli
from tests.data import PHOTOS

DEAD_URL = "127.0.0.1:9"  # discard port: nothing answers gRPC there


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["cut", "{photo}", "--format", "jpg"], "give a background colour"),
        (["cut", "{photo}", "--bgcolor", "red"], "expected R,G,B or R,G,B,A"),
        (["cut", "{photo}", "{photo}"], "need -o DIR"),
        (
            ["cut", "{photo}", "-a", "-af", "300"],
            "-af/--alpha-matting-foreground-threshold: expected 0..255, got 300",
        ),
        (["cut", "{photo}", "--concurrency", "x"], "expected a whole number ≥ 1, got 'x'"),
        (["cut", "{photo}", "--retries", "-1"], "expected a whole number ≥ 0, got '-1'"),
        (["cut", "{photo}", "--timeout", "0"], "expected a number > 0, got '0'"),
        (
            ["cut", "{photo}", "--png-compression", "x"],
            "--png-compression: expected a whole number, got 'x'",
        ),
        (["cut", "/nonexistent/*.png", "-o", "out"], "no image files found"),
        (["cut", "{photo}", "-bgc", "0", "0", "300", "0"], "expected a whole number 0..255"),
        (["frames", "160", "120", "-o", "out.png"], "expected a printf-style pattern"),
        (["frames", "160", "120", "--raw", "--format", "png"], "expected no --format"),
        (["frames", "160", "120", "-o", "f%d.png", "--raw"], "not allowed with argument -o"),
        (["frames", "160", "120", "-o", "f%d.jpg"], "give a background colour"),
        (["frames", "160", "0"], "expected a whole number ≥ 1, got '0'"),
        (["bench", "u2netp", "--concurrency", "0"], "expected numbers ≥ 1 like 1,2,4, got '0'"),
        (["bench", "u2netp", "--concurrency", "1,x"], "expected numbers ≥ 1 like 1,2,4"),
        (["bench", "u2netp", "/nonexistent/*.png"], "no image files found"),
        (["ab", "a", "b", "/nonexistent/*.png"], "no image files found"),
        (["ab", "a", "b", "{photo}", "--requests", "0"], "expected a whole number ≥ 1, got '0'"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else None,
)
def test_usage_errors_exit_2_with_one_clear_line(args: list[str], says: str) -> None:
    argv = [a.replace("{photo}", str(PHOTOS[0])) for a in args]
    done = run_cli("client", *argv, "--url", DEAD_URL, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert says in last, last
    assert "no Triton server" not in done.stderr  # refused before connecting


@pytest.mark.parametrize("command", ["ab", "bench"])
def test_quiet_is_only_offered_where_it_does_something(command: str) -> None:
    done = run_cli("client", command, "--help")
    assert done.returncode == 0
    assert "--quiet" not in done.stdout and "--verbose" in done.stdout


@pytest.mark.parametrize("command", ["cut", "frames", "ab", "bench"])
def test_every_option_has_help(command: str) -> None:
    """Each option line of --help carries a text (argparse leaves bare flags unexplained)."""
    from client.cli import build_parser

    parser = build_parser()
    sub = parser._subparsers._group_actions[0].choices[command]
    bare = [a.option_strings for a in sub._actions if a.option_strings and not a.help]
    assert bare == []
