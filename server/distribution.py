"""Locate the Triton 2.51 build shipped in the ``nvidia-pytriton`` wheel.

The wheel carries the ``tritonserver`` binary, its shared libraries (``nvidia_pytriton.libs``),
the python backend and one python-backend stub per Python minor version. Nothing is imported
from ``pytriton`` itself: only the files are used.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from u2net.errors import ServerStartError

logger = logging.getLogger(__name__)

WHEEL = "nvidia-pytriton==0.7.0"
# glibc's allocator in Triton and its Python-backend stubs, unless the environment sets its
# own: blocks of 1 MB and up (a 12 MP photo's planes) mapped and given back when freed, two
# arenas at most. Measured (docs/measurements.md, the soak): Triton's tree 1218 MB against
# 1574 under 12 MP uploads at c=16, the same throughput within 3 %. Setting the mmap threshold
# also fixes the heap's trim threshold at 128 KB, so the smaller arrays of image maths were
# handed back and faulted in again at every step: up to 4 MB of free heap is kept instead
# (docs/measurements.md: clean at 12 MP took 1.1-1.4x the CPU without it, memory the same).
ALLOCATOR_ENV = {
    "MALLOC_MMAP_THRESHOLD_": str(1 << 20),
    "MALLOC_ARENA_MAX": "2",
    "MALLOC_TRIM_THRESHOLD_": str(4 << 20),
}
STUB_NAME = "triton_python_backend_stub"


@dataclass(frozen=True)
class TritonDist:
    """Files of the embedded Triton build."""

    binary: Path
    libs: Path  # shared libraries the binary and the stub link against
    python_backend: Path  # libtriton_python.so + triton_python_backend_utils.py
    stub: Path  # the stub for the running interpreter's minor version
    caches: Path  # Triton's response-cache libraries (caches/local)

    def environment(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """Environment for Triton: its libs on LD_LIBRARY_PATH, this interpreter's bin/ first
        on PATH (the embedded interpreter in the stub finds the venv and its packages that way);
        ``ALLOCATOR_ENV`` where ``base`` does not set those variables."""
        env = {**ALLOCATOR_ENV, **(os.environ if base is None else base)}
        env["LD_LIBRARY_PATH"] = os.pathsep.join(
            p for p in (str(self.libs), env.get("LD_LIBRARY_PATH", "")) if p
        )
        env["PATH"] = os.pathsep.join(
            p for p in (str(Path(sys.executable).parent), env.get("PATH", "")) if p
        )
        return env


def python_version() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def locate() -> TritonDist:
    """Find the wheel's files for this interpreter; raise ServerStartError naming the fix."""
    spec = importlib.util.find_spec("pytriton")
    if spec is None or not spec.submodule_search_locations:
        raise ServerStartError(f"the embedded Triton is not installed: pip install {WHEEL}")
    package = Path(next(iter(spec.submodule_search_locations)))
    root = package / "tritonserver"
    dist = TritonDist(
        binary=root / "bin" / "tritonserver",
        libs=package.parent / "nvidia_pytriton.libs",
        python_backend=root / "backends" / "python",
        stub=root / "python_backend_stubs" / python_version() / STUB_NAME,
        caches=root / "caches",
    )
    for required in (dist.binary, dist.libs, dist.python_backend / "libtriton_python.so"):
        if not required.exists():
            raise ServerStartError(
                f"incomplete Triton install ({required} missing): "
                f"pip install --force-reinstall {WHEEL}"
            )
    if not dist.stub.exists():
        available = sorted(p.name for p in dist.stub.parent.parent.iterdir() if p.is_dir())
        raise ServerStartError(
            f"{WHEEL} has no python backend stub for Python {python_version()} "
            f"(available: {', '.join(available)}); use one of those Python versions"
        )
    return dist


def check_libraries(dist: TritonDist) -> None:
    """Fail clearly when the stub cannot load a library, most often the system libpython."""
    try:
        out = subprocess.run(
            ["ldd", str(dist.stub)],
            env=dist.environment(),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError) as e:
        logger.debug("cannot run ldd on %s (%s); skipping the library check", dist.stub, e)
        return
    missing = [line.split()[0] for line in out.splitlines() if "not found" in line]
    if not missing:
        return
    libpython = [name for name in missing if name.startswith("libpython")]
    if libpython:
        raise ServerStartError(
            f"the python backend stub needs {libpython[0]}, which is not installed: "
            f"apt-get install libpython{python_version()}"
        )
    raise ServerStartError(f"the python backend stub cannot load: {', '.join(missing)}")
