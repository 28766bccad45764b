"""Run the compose services' shell scripts on CPU, with stand-ins for the commands they call.

Each stand-in appends its name and arguments to a log and exits 0, or 1 when its command
line matches the regular expression in ``STUB_FAIL``; ``tritonserver`` also prints its
arguments to stdout, each ended by a NUL (an argument may hold a line break).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONVERT_SCRIPT = ROOT / "deploy" / "convert" / "run.sh"
SERVE_SCRIPT = ROOT / "deploy" / "triton" / "serve.sh"
WEB_ENTRYPOINT = ROOT / "deploy" / "web" / "entrypoint.sh"

_STUB = """#!/usr/bin/env bash
echo "{name} $*" >> "$STUB_LOG"
{extra}
if [[ -n "${{STUB_FAIL:-}}" && "{name} $*" =~ $STUB_FAIL ]]; then exit 1; fi
exit 0
"""
_PRINT_ARGS = 'printf "%s\\0" "$@"'


@dataclass(frozen=True)
class ScriptRun:
    returncode: int
    stdout: str
    stderr: str
    calls: list[str]  # "<command> <arguments>", in order

    @property
    def args(self) -> list[str]:
        """The arguments the ``tritonserver`` stand-in was given."""
        return self.stdout.split("\0")[:-1]


def restrictions(args: list[str], flag: str) -> dict[str, str]:
    """``{protocol: "header=value"}`` from tritonserver's ``flag=protocols:header=value``."""
    groups = [a.split("=", 1)[1].split(":", 1) for a in args if a.startswith(flag + "=")]
    return {api: header for apis, header in groups for api in apis.split(",")}


def run_script(
    script: Path,
    workdir: Path,
    env: dict[str, str],
    stubs: tuple[str, ...],
    scratch: Path,
    *,
    args: tuple[str, ...] = (),
) -> ScriptRun:
    """Run ``bash script *args`` in ``workdir`` with ``stubs`` (kept in ``scratch``) first on
    PATH."""
    bin_dir = scratch / "stub-bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name in stubs:
        extra = _PRINT_ARGS if name == "tritonserver" else ""
        stub = bin_dir / name
        stub.write_text(_STUB.format(name=name, extra=extra))
        stub.chmod(0o755)
    log = scratch / "stub-log"
    log.write_text("")
    done = subprocess.run(
        ["bash", str(script), *args],
        cwd=workdir,
        env={**os.environ, **env, "PATH": f"{bin_dir}:{os.environ['PATH']}", "STUB_LOG": str(log)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return ScriptRun(done.returncode, done.stdout, done.stderr, log.read_text().splitlines())


def run_web_entrypoint(keys: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """deploy/web/entrypoint.sh with ``echo`` for Python (stdout: web's arguments) and
    ``keys`` as the keys file."""
    return subprocess.run(
        ["sh", str(WEB_ENTRYPOINT)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={"PATH": os.environ["PATH"], "PYTHON": "echo", **env, "WEB_KEYS_FILE": str(keys)},
    )
