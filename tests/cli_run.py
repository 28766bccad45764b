"""Run a project CLI the way users do: ``main(argv)`` in this process (fast), or as a real
``python -m`` subprocess where the process boundary is what a test is about."""

from __future__ import annotations

import contextlib
import importlib
import io
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def _restored_process_state(env: dict[str, str] | None) -> Iterator[None]:
    """What a CLI's ``main`` may change for the process: environment, working folder, root
    logger (``setup_logging`` replaces its handlers), signal handlers; all put back after."""
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    saved_signals = {s: signal.getsignal(s) for s in HANDLED_SIGNALS}
    os.environ.update(env or {})
    os.chdir(ROOT)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        os.chdir(saved_cwd)
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        for number, handler in saved_signals.items():
            signal.signal(number, handler)


def run_cli(
    module: str,
    *args: str | Path,
    env: dict[str, str] | None = None,
    timeout: float = 300,
    input: bytes | None = None,
) -> subprocess.CompletedProcess:
    """``python -m module args`` as ``module.cli.main(args)`` in this process: its exit code,
    stdout and stderr, as a subprocess would give them. ``timeout`` is kept for the callers
    that switch to :func:`run_process`; in-process calls finish by themselves.

    With ``input``, standard input holds those bytes and stdout comes back as bytes (binary
    output, as ``subprocess.run(input=...)`` gives it); stderr stays text."""
    del timeout
    argv = [str(a) for a in args]
    main = importlib.import_module(f"{module}.cli").main
    out = io.StringIO() if input is None else io.TextIOWrapper(io.BytesIO(), write_through=True)
    err = io.StringIO()
    stdin = io.TextIOWrapper(io.BytesIO(input or b""))
    with (
        _restored_process_state(env),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
        _stdin(stdin),
    ):
        try:
            code = main(argv)
        except SystemExit as e:  # argparse's usage errors and --help
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    stdout = out.getvalue() if isinstance(out, io.StringIO) else out.buffer.getvalue()
    return subprocess.CompletedProcess(
        [sys.executable, "-m", module, *argv], code, stdout, err.getvalue()
    )


@contextlib.contextmanager
def _stdin(stream: io.TextIOWrapper) -> Iterator[None]:
    saved, sys.stdin = sys.stdin, stream
    try:
        yield
    finally:
        sys.stdin = saved


def run_process(
    module: str, *args: str | Path, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """``python -m module args`` as a real subprocess (startup, exit codes, signals)."""
    return subprocess.run(
        [sys.executable, "-m", module, *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        timeout=timeout,
        check=False,
    )


def assert_one_line_error(
    done: subprocess.CompletedProcess[str], *fragments: str, code: int = 1
) -> None:
    """Exit ``code``, no traceback, and the last stderr line names what went wrong."""
    assert done.returncode == code, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: "), last
    for fragment in fragments:
        assert fragment in last, (fragment, last)
